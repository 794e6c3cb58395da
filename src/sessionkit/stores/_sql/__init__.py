"""What the sync and async SQL stores share, one module per concern; nothing here does I/O.

``schema`` (the table), ``timestamps`` (stored times and expiry rules), ``drivers`` (which
driver a URL gets and what it needs installed), ``engine`` (options and engine creation),
``statements`` (every statement) and ``errors`` (database errors as sessionkit's).
"""
