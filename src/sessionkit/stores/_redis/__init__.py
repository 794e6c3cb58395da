"""What the sync and async Redis stores share, one module per concern; nothing here does I/O.

``envelope`` (the stored form), ``keyspace`` (prefix, SCAN), ``ttls`` (PX and PTTL),
``scripts`` (the Lua, from ``lua/*.lua``), ``errors`` (redis-py's errors as sessionkit's)
and ``urls`` (URL checks and the multi-host forms).
"""
