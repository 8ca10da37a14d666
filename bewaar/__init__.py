"""The face of Bewaarplaats: the ``bewaar`` command line and the web app."""
