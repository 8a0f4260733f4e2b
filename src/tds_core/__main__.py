from tds_core.cli.main import app

app()
