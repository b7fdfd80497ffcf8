"""The Execution Broker data model: requests, offers, sessions, phases, messages and their wire forms."""
