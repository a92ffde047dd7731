"""The project's own scripts that write docs from the proof catalogues, run from the clone's root:

    python -m tools.detection_score      # docs/detection.md, from tests/faulty (and tests/load/faulty.py)
    python -m tools.false_alarm_score    # docs/false-alarms.md, from tests/variants

They import the catalogues from the ``tests`` package, as the tests do: ``python -m`` puts the clone's root first on
the import path, so no script edits it. Not part of the installed package.
"""
