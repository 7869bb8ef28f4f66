"""What an answer cost: its tokens at the model's price (``traces.prices``)."""

from __future__ import annotations

from collections.abc import Mapping

from mnemo.generation.types import Answer

#: Dollars per million tokens, input and output, by "provider:model" or model name.
Prices = Mapping[str, tuple[float, float]]


def estimate_cost(answer: Answer, prices: Prices) -> float:
    """Dollars, from the price per million tokens of the answer's model ("provider:model"
    or the model's name alone); 0 for an extractive answer or a model not listed."""
    if not answer.model:
        return 0.0
    name = answer.model.split(":", 1)[-1]
    price = prices.get(answer.model) or prices.get(name)
    if price is None:
        return 0.0
    per_input, per_output = price
    used = answer.usage
    return (used.input_tokens * per_input + used.output_tokens * per_output) / 1e6
