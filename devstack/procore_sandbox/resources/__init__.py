"""One module per Procore resource family, each a mixin of ``ProcoreSandbox``.

A family's module holds its handlers (``_h_*``), its helpers and its ``ROUTES``; ``common``
holds what they share (list pages, the sync rules, validated writes, field checks).
"""
