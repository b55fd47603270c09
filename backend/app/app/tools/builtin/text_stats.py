"""`text-stats`: lines, words and characters of a text or an uploaded file."""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.tools.base import Tool, ToolError
from app.tools.context import JobContext
from app.tools.files import FileRef


class TextStatsInputs(BaseModel):
    # What _exactly_one_source checks, stated in the JSON Schema for clients.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["text"], "properties": {"text": {"type": "string"}}},
                {"required": ["file"], "properties": {"file": {"type": "string"}}},
            ]
        }
    )

    text: str | None = Field(default=None, max_length=10_000_000)
    file: FileRef | None = None

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Self:
        if (self.text is None) == (self.file is None):
            raise ValueError("give exactly one of `text` and `file`")
        return self


class TextStatsOutputs(BaseModel):
    lines: int
    words: int
    chars: int


class TextStats(Tool[TextStatsInputs, TextStatsOutputs]):
    name = "text-stats"
    version = "1.0.0"
    title = "Text statistics"
    description = "Counts the lines, words and characters of `text` or of a UTF-8 `file`."

    def run(self, inputs: TextStatsInputs, ctx: JobContext) -> TextStatsOutputs:
        if inputs.file is None:
            text = inputs.text or ""
        else:
            try:
                text = ctx.input_file(inputs.file).path.read_text(encoding="utf-8")
            except UnicodeDecodeError as error:
                raise ToolError(f"the file is not UTF-8 text: {error}") from None
        return TextStatsOutputs(
            lines=len(text.splitlines()), words=len(text.split()), chars=len(text)
        )
