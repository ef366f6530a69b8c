"""Per-capability sections of a run's report, each `add_...(run, judge) -> metrics`."""
