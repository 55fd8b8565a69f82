"""``grader serve``: the hosted grading service (an optional extra: ``pip install -e '.[serve]'``).

    store.py    students' tokens, submissions, jobs and results (SQLAlchemy: SQLite in WAL
                mode by default, PostgreSQL for several machines), and the content-addressed
                store of submitted bytes; the fair queue (round-robin per student, one
                running job each) and its recovery after a crash
    uploads.py  what an upload must be before anything is stored (size, type, zip rules)
    tokens.py   the roster and its tokens (issued once, stored hashed)
    runner.py   grading threads: claim a job, grade it in a warm supervised process of
                grader.executors, record its result once
    app.py      the HTTP API and the server-rendered pages (FastAPI on uvicorn)
    cli.py      ``grader serve`` and ``grader serve tokens``

Only ``cli.py`` and ``app.py`` import the web stack, so the rest is usable without it
(``store.py`` needs SQLAlchemy, also in the extra).
"""
