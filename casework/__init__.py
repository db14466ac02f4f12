"""What a case is about: clients, case managers, plans, network, consent and the access log."""
