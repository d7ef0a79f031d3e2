"""The Qianliyan API gateway (FastAPI): ``python -m gateway``; ``gateway.app.create_app`` builds the app."""
