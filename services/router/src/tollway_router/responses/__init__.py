"""The Responses API's state: stored responses (`store.py`), who may read them and how a
conversation is rebuilt (`records.py`), one request's use of them (`session.py`), and the
edges' reads and deletes (`answers.py`)."""
