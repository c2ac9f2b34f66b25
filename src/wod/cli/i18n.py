"""``wod i18n``: the gettext catalogues of the participant-facing texts."""

from __future__ import annotations

import typer

from wod.cli.common import console, edge
from wod.i18n import DEFAULT, LANGUAGES
from wod.locale import catalogs

app = typer.Typer(help="Translations of the portal and the emails.", no_args_is_help=True)


@app.command("update")
@edge
def update() -> None:
    """Extract the messages of the sources and merge them into each language's catalogue."""
    missing = catalogs.update()
    console.print(f"wrote {catalogs.template_path()}")
    for language, count in missing.items():
        state = "complete" if not count else f"{count} message(s) to translate"
        console.print(f"{language} ({LANGUAGES[language]}): {state}", highlight=False)


@app.command("check")
@edge
def check() -> None:
    """List what each language misses; exit 1 if any message is untranslated."""
    template = catalogs.extract()
    found = [p for lang in LANGUAGES if lang != DEFAULT for p in catalogs.problems(lang, template)]
    for problem in found:
        console.print(str(problem), highlight=False)
    if found:
        raise typer.Exit(1)
    languages = ", ".join(LANGUAGES)
    console.print(f"{len(template)} messages, complete in {languages}", highlight=False)
