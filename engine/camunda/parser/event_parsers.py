"""Event parsers: Camunda timer values, and message events implemented by workers."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.parser.event_parsers import (
    BoundaryEventParser as _BoundaryEventParser,
)
from SpiffWorkflow.bpmn.parser.event_parsers import (
    EndEventParser as _EndEventParser,
)
from SpiffWorkflow.bpmn.parser.event_parsers import (
    EventBasedGatewayParser as _EventBasedGatewayParser,
)
from SpiffWorkflow.bpmn.parser.event_parsers import (
    IntermediateCatchEventParser as _IntermediateCatchEventParser,
)
from SpiffWorkflow.bpmn.parser.event_parsers import (
    IntermediateThrowEventParser as _IntermediateThrowEventParser,
)
from SpiffWorkflow.bpmn.parser.event_parsers import (
    ReceiveTaskParser as _ReceiveTaskParser,
)
from SpiffWorkflow.bpmn.parser.event_parsers import (
    SendTaskParser as _SendTaskParser,
)
from SpiffWorkflow.bpmn.parser.event_parsers import (
    StartEventParser as _StartEventParser,
)
from SpiffWorkflow.bpmn.parser.util import first

from engine.camunda.parser.extensions import BPMN_NS
from engine.camunda.parser.task_parsers import CamundaParserMixin, implementation
from engine.camunda.specs import tasks
from engine.camunda.specs.event_definitions import (
    CamundaCycleTimerEventDefinition,
    CamundaTimerEventDefinition,
)


class CamundaEventMixin(CamundaParserMixin):
    """Timer values are Camunda's: literals or JUEL, with cron cycles."""

    def parse_timer_event(self, event: Any) -> Any:
        name = self.node.get("name", self.node.get("id"))
        description = self.get_event_description(event)  # type: ignore[attr-defined]
        for tag, kind in (("timeDate", "date"), ("timeDuration", "duration"), ("timeCycle", "cycle")):
            node = first(event.findall(f"{{{BPMN_NS}}}{tag}"))
            if node is not None:
                text = (node.text or "").strip()
                if kind == "cycle":
                    return CamundaCycleTimerEventDefinition(name, text, description=description)
                return CamundaTimerEventDefinition(name, text, kind, description=description)
        self.raise_validation_exception("timer event has no timeDate, timeDuration or timeCycle")  # type: ignore[attr-defined]


def _message_implementation(parser: Any) -> tuple[str, str] | None:
    node = first(parser.node.findall(f"{{{BPMN_NS}}}messageEventDefinition"))
    return implementation(node) if node is not None else None


class StartEventParser(CamundaEventMixin, _StartEventParser):
    pass


class EndEventParser(CamundaEventMixin, _EndEventParser):
    def _create_task(self, event_definition: Any, cancel_activity: Any = None, parallel: Any = None) -> Any:
        impl = _message_implementation(self)
        if impl is None:
            return super()._create_task(event_definition, cancel_activity, parallel)
        return tasks.ExternalEndEvent(self.spec, self.bpmn_id, event_definition=event_definition,
                                      topic=impl[1], implementation=impl[0], **self.bpmn_attributes)


class IntermediateThrowEventParser(CamundaEventMixin, _IntermediateThrowEventParser):
    def _create_task(self, event_definition: Any, cancel_activity: Any = None, parallel: Any = None) -> Any:
        impl = _message_implementation(self)
        if impl is None:
            return super()._create_task(event_definition, cancel_activity, parallel)
        return tasks.ExternalThrowEvent(self.spec, self.bpmn_id, topic=impl[1], implementation=impl[0],
                                        **self.bpmn_attributes)


class IntermediateCatchEventParser(CamundaEventMixin, _IntermediateCatchEventParser):
    pass


class BoundaryEventParser(CamundaEventMixin, _BoundaryEventParser):
    pass


class EventBasedGatewayParser(CamundaEventMixin, _EventBasedGatewayParser):
    pass


class SendTaskParser(CamundaEventMixin, _SendTaskParser):
    pass


class ReceiveTaskParser(CamundaEventMixin, _ReceiveTaskParser):
    def create_task(self) -> Any:
        """Without a message it waits to be triggered (Camunda's `signal`); SpiffWorkflow would pass through."""
        if self.node.get("messageRef") is None and first(
                self.node.findall(f"{{{BPMN_NS}}}messageEventDefinition")) is None:
            return self.with_io(tasks.TriggeredReceiveTask(self.spec, self.bpmn_id, **self.bpmn_attributes))
        return super().create_task()
