"""Timer event definitions that read Camunda values (literals or JUEL) and an injectable clock.

SpiffWorkflow evaluates every timer value as Python and compares it with the wall clock; Camunda
Modeler writes bare ISO 8601 values (`PT1H`), JUEL (`${due}`) and Quartz cron cycles. The parsed
schedule is kept in the task's internal data so that the engine can project the due time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.util import PendingBpmnEvent
from SpiffWorkflow.util.task import TaskState

from engine.camunda.timer_expression import TimerSchedule, schedule
from engine.errors import ExpressionError

SCHEDULE_KEY = "timer"


def _engine(my_task: Any) -> Any:
    return my_task.workflow.script_engine


def current_schedule(my_task: Any, kind: str, expression: str) -> TimerSchedule:
    """The task's schedule, computed from the expression the first time it is needed."""
    stored = my_task.internal_data.get(SCHEDULE_KEY)
    if stored is not None:
        return TimerSchedule.from_json(stored)
    engine = _engine(my_task)
    value = engine.value(my_task, expression)
    try:
        sched = schedule(kind, value, engine.now())
    except OverflowError:  # e.g. P99999999D: a due time past the year 9999
        raise ExpressionError(f"the {kind} timer's value {value!r} is out of range") from None
    my_task.internal_data[SCHEDULE_KEY] = sched.to_json()
    return sched


class CamundaTimerEventDefinition(TimerEventDefinition):
    """A `timeDate` or `timeDuration` timer: fires once when its due time has passed."""

    def __init__(self, name: str, expression: str, kind: str, **kwargs: Any) -> None:
        super().__init__(name, expression, **kwargs)
        self.kind = kind

    def has_fired(self, my_task: Any) -> bool:
        if my_task.internal_data.get("event_fired"):
            return True
        sched = current_schedule(my_task, self.kind, self.expression)
        if sched.first_due <= _engine(my_task).now():
            my_task.internal_data["event_fired"] = True
        return bool(my_task.internal_data.get("event_fired", False))

    def reset(self, my_task: Any) -> None:
        my_task.internal_data.pop(SCHEDULE_KEY, None)
        super().reset(my_task)

    def details(self, my_task: Any) -> PendingBpmnEvent:
        stored = my_task.internal_data.get(SCHEDULE_KEY)
        due = TimerSchedule.from_json(stored).first_due.isoformat() if stored else None
        return PendingBpmnEvent(self.name, self.__class__.__name__, due)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CamundaTimerEventDefinition) and super().__eq__(other) and self.kind == other.kind


class CamundaCycleTimerEventDefinition(CycleTimerEventDefinition):
    """A `timeCycle` timer (ISO repeating interval or Quartz cron) firing once per due time."""

    kind = "cycle"

    def cycle_complete(self, my_task: Any) -> bool:
        if my_task.internal_data.get("event_fired"):
            return False
        sched = current_schedule(my_task, "cycle", self.expression)
        now = _engine(my_task).now()
        if sched.first_due > now:
            return False
        following = sched.next_after(sched.first_due)
        if following is None:
            my_task.internal_data.pop(SCHEDULE_KEY, None)
            my_task.internal_data["event_fired"] = True
        else:
            my_task.internal_data[SCHEDULE_KEY] = following.to_json()
        return True

    def has_fired(self, my_task: Any) -> bool:
        return bool(my_task.internal_data.get("event_fired", False))

    def update_task(self, my_task: Any) -> None:
        if self.cycle_complete(my_task):
            for output in my_task.task_spec.outputs:
                child = my_task._add_child(output, TaskState.FUTURE)
                child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)
                child.task_spec._update(child)

    def details(self, my_task: Any) -> PendingBpmnEvent:
        stored = my_task.internal_data.get(SCHEDULE_KEY)
        due = TimerSchedule.from_json(stored).first_due.isoformat() if stored else None
        return PendingBpmnEvent(self.name, self.__class__.__name__, due)


def due_time(my_task: Any) -> datetime | None:
    """When a waiting timer task is next due, if it has a schedule."""
    stored = my_task.internal_data.get(SCHEDULE_KEY)
    return TimerSchedule.from_json(stored).first_due if stored else None
