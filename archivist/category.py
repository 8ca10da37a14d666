"""A selectielijst category with its confidence: a scikit-learn classifier (TF-IDF of words
and character n-grams, logistic regression) trained, per analysis, on

- the seed set (``seed_categories.json``: short texts labelled with the demo selectielijst's
  codes; only those of codes that are loaded count),
- each loaded category's own name, and
- the texts of the packages whose category suggestion a records manager accepted (their
  decisions weigh three times a seed text).

With fewer than two categories to choose from it suggests nothing and says why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEED = Path(__file__).with_name("seed_categories.json")
ACCEPTED_WEIGHT = 3.0


@dataclass(frozen=True)
class Guess:
    code: str
    confidence: float
    trained_on: int  # examples


def seed_examples() -> list[tuple[str, str]]:
    """(text, code) pairs of the seed set."""
    data = json.loads(SEED.read_text("utf-8"))
    return [(item["text"], item["code"]) for item in data["examples"]]


class Classifier:
    def __init__(self, categories: dict[str, str],
                 accepted: list[tuple[str, str]] | None = None) -> None:
        """``categories``: code → name of the loaded selectielijst; ``accepted``: (text,
        code) of accepted decisions."""
        self.model: Any = None
        self.why_not: str | None = None
        self.examples = 0
        texts: list[str] = []
        labels: list[str] = []
        weights: list[float] = []
        for text, code in seed_examples():
            if code in categories:
                texts.append(text)
                labels.append(code)
                weights.append(1.0)
        for code, name in categories.items():
            texts.append(name)
            labels.append(code)
            weights.append(1.0)
        for text, code in accepted or []:
            if code in categories and text.strip():
                texts.append(text[:20_000])
                labels.append(code)
                weights.append(ACCEPTED_WEIGHT)
        if len(set(labels)) < 2:
            self.why_not = ("no selectielijst with two or more categories is loaded"
                            if len(categories) < 2 else "too few examples")
            return
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, make_pipeline

        features = FeatureUnion([
            ("words", TfidfVectorizer(lowercase=True, ngram_range=(1, 2), sublinear_tf=True,
                                      min_df=1)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                      min_df=1)),
        ])
        self.model = make_pipeline(features, LogisticRegression(max_iter=2000, C=10.0))
        try:
            self.model.fit(texts, labels, logisticregression__sample_weight=weights)
        except ValueError as exc:  # no usable words in the examples
            self.model = None
            self.why_not = f"the classifier could not be trained: {exc}"
            return
        self.examples = len(texts)

    def guess(self, text: str) -> Guess | None:
        if self.model is None or len(text.split()) < 3:
            return None
        probs = self.model.predict_proba([text[:50_000]])[0]
        classes = list(self.model.classes_)
        best = int(probs.argmax())
        return Guess(str(classes[best]), round(float(probs[best]), 3), self.examples)
