"""A Flask application: ``/`` answers ``Hello from Flask!``, ``/api/data`` a JSON document,
``POST /echo`` the request body.

Serve it with::

    python -m wsgikit examples.flask_app:application -w 4 -b 0.0.0.0:8000
"""

from flask import Flask, request

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello from Flask!"


@app.route("/api/data")
def data():
    return {"message": "API response"}


@app.post("/echo")
def echo():
    return request.get_data(), 200, {"Content-Type": "application/octet-stream"}


# WSGI application
application = app
