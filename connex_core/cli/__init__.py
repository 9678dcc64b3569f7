"""The ``connex`` command line (placeholder until the CLI lands)."""
import typer

app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False)


@app.command()
def demo() -> None:
    """Run the demo."""
    typer.echo("demo: not yet")


def main() -> None:
    app()
