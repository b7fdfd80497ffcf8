"""Planning: which offers this hub can make for a request. Pure: no I/O, no clock of its own (the
caller passes ``now``, and every message made here is stamped with it), nothing reserved.

- :mod:`.planner`: :func:`~.planner.plan`, request + profiles + calendar + now + policy + probes ->
  offers, or the messages of a NO;
- :mod:`.eligibility`: which profiles can run a request, and why not (per profile);
- :mod:`.refusals`: the summaries of a NO;
- :mod:`.costs`: an offer's costs, and whether it keeps a request's cost and metric limits;
- :mod:`.policy`: :class:`~.policy.PlannerPolicy`, the hub's planning rules, and the price book;
- :mod:`.nodefit`: each profile capped to the node that best holds a request, and the NO of a
  platform whose figures cannot be trusted.

Nothing is imported here, so importing one module loads only what that module needs.
"""
