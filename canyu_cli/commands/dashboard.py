"""``canyu dashboard``: the live dashboard's web server."""

from __future__ import annotations

import typer

from canyu.settings import get_settings

app = typer.Typer()


@app.command()
def dashboard() -> None:
    """Serve the live dashboard and its API (CANYU_DASHBOARD_HOST/PORT; tokens from CANYU_DASHBOARD_*TOKEN).

    Tokens that are not set are generated once and kept under CANYU_HOME/secrets; this prints where, never a token.
    """
    import uvicorn

    from dashboard.app import create_app
    from dashboard.auth import TOKENS, token_file, with_tokens
    from dashboard.launch import dashboard_url

    settings = get_settings()
    ready = with_tokens(settings)
    given = settings.flat()
    for name in TOKENS:
        if given[name] is None:
            typer.echo(f"CANYU_{name.upper()} is not set; the token is in {token_file(settings, name)}")
    typer.echo(f"dashboard: {dashboard_url(settings)}  (API spec: /openapi.json)")
    # Open live feeds would otherwise hold a shutdown for as long as the browser stays.
    uvicorn.run(create_app(ready), host=ready.dashboard.host, port=ready.dashboard.port, timeout_graceful_shutdown=3)
