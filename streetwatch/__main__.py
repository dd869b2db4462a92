from streetwatch.cli import app

app()
