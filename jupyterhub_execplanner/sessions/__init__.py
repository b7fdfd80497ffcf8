"""Offersets and sessions: persistence (:mod:`.store`) and the manager that owns their phases."""
