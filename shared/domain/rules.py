"""The supervision rules: every knob a city may change, with the defaults of DOMAIN.md.

In the models the knobs travel as one process variable, ``rules`` (a context). Each model's first step is a
script task that merges the caller's ``rules`` over the model's defaults, so a process designer changes a
default in the Modeler, and whoever starts an instance (the gateway, the demo) may override any knob for that
instance. Workers read ``rules`` through ``Rules.from_variable`` and refuse a bad value with a message
naming the knob, so the job's incident says what to fix.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.domain.durations import Cycle, Duration, DurationError

# The models' defaults (their "Apply ... rules" script tasks); a unit test keeps the two in step.
DEFAULTS: dict[str, Any] = {
    "stallWarningAfter": "P90D",
    "stallClockFrom": "lastProgress",
    "progressMessageTtl": "P30D",
    "resolutionWorkingDays": 7,
    "reminderWorkingDaysBefore": 2,
    "yellowFlagCycle": "R/P30D",
    "confirmWithin": "P15D",
    "evaluationAnswerWithin": "P14D",
    "evaluationPeriod": "P1Y",
}


class RulesError(ValueError):
    pass


class Rules(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    stall_warning_after: str = Field(DEFAULTS["stallWarningAfter"], alias="stallWarningAfter")
    # lastProgress: no progress for stallWarningAfter since signing or the latest progress (the clock resets);
    # signing: checked every stallWarningAfter counted from signing, warning when that period saw no progress.
    stall_clock_from: Literal["lastProgress", "signing"] = Field(DEFAULTS["stallClockFrom"], alias="stallClockFrom")
    progress_message_ttl: str = Field(DEFAULTS["progressMessageTtl"], alias="progressMessageTtl")
    resolution_working_days: int = Field(DEFAULTS["resolutionWorkingDays"], ge=1, le=60,
                                         alias="resolutionWorkingDays")
    reminder_working_days_before: int = Field(DEFAULTS["reminderWorkingDaysBefore"], ge=0, le=30,
                                              alias="reminderWorkingDaysBefore")
    yellow_flag_cycle: str = Field(DEFAULTS["yellowFlagCycle"], alias="yellowFlagCycle")
    confirm_within: str = Field(DEFAULTS["confirmWithin"], alias="confirmWithin")
    evaluation_answer_within: str = Field(DEFAULTS["evaluationAnswerWithin"], alias="evaluationAnswerWithin")
    evaluation_period: str = Field(DEFAULTS["evaluationPeriod"], alias="evaluationPeriod")

    @field_validator("stall_warning_after", "progress_message_ttl", "confirm_within", "evaluation_answer_within",
                     "evaluation_period")
    @classmethod
    def _duration(cls, value: str) -> str:
        Duration.parse(value)
        return value

    @field_validator("yellow_flag_cycle")
    @classmethod
    def _cycle(cls, value: str) -> str:
        Cycle.parse(value)
        return value

    @classmethod
    def from_variable(cls, value: Any) -> Rules:
        """The ``rules`` variable (None: all defaults). Raises ``RulesError`` naming the bad knob."""
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise RulesError(f"the 'rules' variable must be a context (JSON object), got {type(value).__name__}")
        try:
            return cls.model_validate(value)
        except ValidationError as error:
            problems = "; ".join(f"rules.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
            raise RulesError(problems) from None
        except DurationError as error:  # pragma: no cover - pydantic wraps validator errors
            raise RulesError(str(error)) from None

    @property
    def stall_period(self) -> Duration:
        return Duration.parse(self.stall_warning_after)

    @property
    def message_ttl(self) -> Duration:
        return Duration.parse(self.progress_message_ttl)

    @property
    def evaluation_window(self) -> Duration:
        return Duration.parse(self.evaluation_period)

    def as_variable(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)
