"""Research mode: a planning, retrieving, grading, synthesising and verifying agent.

It sits between :mod:`mnemo.library` and :mod:`mnemo.generation`: it reaches the
core only through the Library's methods (the :class:`~mnemo.agents.protocol.ResearchLibrary`
protocol, which ``Library.research`` satisfies by passing itself in).
"""
