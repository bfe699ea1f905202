"""Words: what a report says about the numbers the analyses return.

The analyses (``crmlib.rfm``, ``crmlib.lifecycle`` ...) return tidy frames and never take a
``language``. The modules here turn those frames into text and display tables in Chinese or
English: :mod:`crmlib.present.format` writes numbers, money, percents and dates one way
everywhere; :mod:`crmlib.present.page` builds titles, sections and tables; one module per topic
writes that topic's findings.
"""

__all__: list[str] = []
