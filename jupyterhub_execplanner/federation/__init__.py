"""Federation: a broker that also asks other brokers (its peers) and merges their offers with its own.

:mod:`.peerconfig` checks the ``peers`` setting, :mod:`.merge` holds the pure rules (hop counting,
loop cutting, merging answers, messages about peers) and :mod:`.peers` does the I/O (asking the peers,
relaying reads and changes of their sessions).
"""
