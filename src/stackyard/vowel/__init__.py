"""The vowel-guess service: a fixed Flask app over a pluggable data layer (``DataInterface``)."""
