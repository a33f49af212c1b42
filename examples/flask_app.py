"""A Flask application: ``/`` answers ``Hello from Flask!``, ``/api/data`` a JSON document.

Serve it with::

    python -m wsgikit examples.flask_app:application -w 4 -b 0.0.0.0:8000
"""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello from Flask!"


@app.route("/api/data")
def data():
    return {"message": "API response"}


# WSGI application
application = app
