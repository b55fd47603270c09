"""Tool packages made on the fly: a distribution on sys.path with entry points in the
group tooljobs.tools, as `pip install` would leave it; and one full of broken tools."""

from pathlib import Path

from app.tools.registry import ENTRY_POINT_GROUP


def install_distribution(root: Path, module: str, source: str, *entry_points: str) -> None:
    """`module.py` and its .dist-info in root (put root on sys.path or PYTHONPATH); each
    entry point is `name = value`, or a value named after the module."""
    (root / f"{module}.py").write_text(source)
    info = root / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    lines = [point if "=" in point else f"{module} = {point}" for point in entry_points]
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n" + "\n".join(lines) + "\n")


BROKEN_TOOLS = """
from pathlib import Path

from pydantic import BaseModel

from app.tools.base import Tool
from app.tools.command_line import CommandLineTool, Flag, Stdout


class Inputs(BaseModel):
    text: str


class Outputs(BaseModel):
    length: int


class StillGood(Tool[Inputs, Outputs]):
    name = "still-good"
    version = "1.0.0"
    title = "Works beside broken tools"

    def run(self, inputs, ctx):
        return Outputs(length=len(inputs.text))


class NoModels(Tool):
    name = "no-models"
    version = "1.0.0"
    title = "No models"

    def run(self, inputs, ctx):
        return None


class DictInputs(Tool[dict, Outputs]):
    name = "dict-inputs"
    version = "1.0.0"
    title = "Inputs not a model"

    def run(self, inputs, ctx):
        return None


class MisspelledName(Tool[Inputs, Outputs]):
    nmae = "misspelled"
    version = "1.0.0"
    title = "Misspelled name"

    def run(self, inputs, ctx):
        return None


class SpacedName(StillGood):
    name = "Spaced Name"


class NoTitle(Tool[Inputs, Outputs]):
    name = "no-title"
    version = "1.0.0"

    def run(self, inputs, ctx):
        return None


class PathInputs(BaseModel):
    file: Path


class PathInput(Tool[PathInputs, Outputs]):
    name = "path-input"
    version = "1.0.0"
    title = "Path input"

    def run(self, inputs, ctx):
        return None


class ArgvTypo(CommandLineTool[Inputs, Outputs]):
    name = "argv-typo"
    version = "1.0.0"
    title = "Argv typo"
    argv = ("wc", "{txt}")

    def outputs(self, inputs, ctx, program):
        return Outputs(length=0)


class NoOutputsMethod(CommandLineTool[Inputs, Outputs]):
    name = "no-outputs-method"
    version = "1.0.0"
    title = "No outputs()"
    argv = ("wc", "{text}")


class FlagTypo(CommandLineTool[Inputs, Outputs]):
    name = "flag-typo"
    version = "1.0.0"
    title = "Flag typo"
    argv = ("wc", Flag("--verbose"), "{text}")
    stdout = Stdout("length")


class StdoutTypo(CommandLineTool[Inputs, Outputs]):
    name = "stdout-typo"
    version = "1.0.0"
    title = "Stdout typo"
    argv = ("wc", "{text}")
    stdout = Stdout("lenght")


class NoAttempts(StillGood):
    name = "no-attempts"
    max_attempts = 0


class StillGoodMockup(StillGood):
    is_mockup = True


class OrphanMockup(StillGood):
    name = "orphan"
    is_mockup = True
"""

# Each broken tool above by its label, with a part of the message that says the fix.
BROKEN_EXPECTED = {
    "NoModels ('no-models')": "class NoModels(Tool[NoModelsInputs, NoModelsOutputs])",
    "DictInputs ('dict-inputs')": "it has Tool[dict, Outputs]",
    "MisspelledName": 'give it a name: name = "misspelled-name" (is `nmae` a typo of `name`?)',
    "SpacedName ('Spaced Name')": "name 'Spaced Name' is not a tool name",
    "NoTitle ('no-title')": "give it a title",
    "PathInput ('path-input')": "declare it `file: FileRef`",
    "ArgvTypo ('argv-typo')": "names {txt}, which is not an input of Inputs (it has: text)",
    "NoOutputsMethod ('no-outputs-method')": "nothing gives its output length: name it in "
    'stdout, like stdout = Stdout("length"), or implement outputs(self, inputs, ctx, program)',
    "FlagTypo ('flag-typo')": "uses the input `verbose`, which Inputs does not have",
    "StdoutTypo ('stdout-typo')": "Stdout('lenght') names no output of Outputs (it has: length)",
    "NoAttempts ('no-attempts')": "max_attempts 0 must be a whole number, 1 or more",
    "OrphanMockup ('orphan')": "it is the mockup of 'orphan', and no working tool has that name",
}


def install_broken_tools(root: Path) -> None:
    """`tooljobs_broken` (the tools above), `tooljobs_unimportable` (a module that raises
    on import) and an entry point that names neither a module nor a tool."""
    install_distribution(
        root,
        "tooljobs_broken",
        BROKEN_TOOLS,
        "tooljobs_broken",
        "not_a_tool = tooljobs_broken:Inputs",
    )
    install_distribution(
        root, "tooljobs_unimportable", "import no_such_module_here\n", "tooljobs_unimportable"
    )
