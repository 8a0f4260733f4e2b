"""The periodic reports: the weekly dead-letter digest and the monthly performance summary.

- :mod:`.figures`: what each report says (read from the same queries as the dashboard) and its
  renderings;
- :mod:`.digests`: making each report once per period and sending it through the alert channels
  (the alert package's delivery runner: reports depend on alerts, never the other way round).
"""
