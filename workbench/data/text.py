"""A real, offline text corpus for tiny language models: the seed papers' titles and abstracts.

Source: ``datasets/literature/catalogue.jsonl`` (497 papers, about 758k characters of title plus
abstract, built by ``workbench literature build`` from the seed set's paper-search pages; see
``datasets/literature/README.md``). Each paper becomes one document ``title + "\\n" + abstract +
"\\n\\n"``.

The split is **by paper**, never by position inside one text: a paper's abstract is wholly in
train, val or test, so the validation loss measures generalisation to unseen abstracts, not
memorised neighbours of training characters. The papers are shuffled with ``seed`` and cut
into ``val_frac`` / ``test_frac`` shares (by paper count).

Tokenization is character-level: the vocabulary is the set of characters of the *training*
papers (sorted, so it is deterministic) plus ``UNK`` (index 0) for characters that occur only in
val or test. :attr:`TextCorpus.version` and :attr:`TextCorpus.checksum` (SHA-256 of the source
file) go into cache keys, so a rebuilt catalogue retrains the models trained on it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..paths import DATASETS_DIR

__all__ = ["TEXT_CORPUS_VERSION", "UNK", "TextCorpus", "text_corpus"]

#: Bumped whenever the document format, split rule or tokenization changes.
TEXT_CORPUS_VERSION = 1
#: The unknown-character token (index 0 of every vocabulary).
UNK = "\x00"
_SOURCE = Path("literature") / "catalogue.jsonl"


@dataclass(frozen=True)
class TextCorpus:
    """A character-level corpus split by paper.

    Attributes:
        train, val, test: 1-D ``int64`` token tensors (the split's documents concatenated).
        vocab: the characters; token ``i`` is ``vocab[i]`` (``vocab[0]`` is :data:`UNK`).
        papers: split name -> the paper ids in it (catalogue ``id`` field).
        checksum: SHA-256 (hex) of the source file.
        seed: the shuffling seed of the split.
        version: :data:`TEXT_CORPUS_VERSION`.
        source: the file it was read from.
    """

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    vocab: tuple[str, ...]
    papers: dict[str, tuple[str, ...]] = field(repr=False)
    checksum: str = ""
    seed: int = 0
    version: int = TEXT_CORPUS_VERSION
    source: str = ""

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def key(self) -> dict:
        """What a model trained on this corpus depends on (for ``cached_train`` settings)."""
        sizes = {s: len(self.papers[s]) for s in ("train", "val", "test")}
        return {"corpus": "seed_abstracts", "version": self.version, "sha256": self.checksum[:16],
                "seed": self.seed, "papers": sizes}  # fmt: skip

    def encode(self, text: str) -> torch.Tensor:
        """Characters -> token ids (unknown characters -> 0)."""
        index = {c: i for i, c in enumerate(self.vocab)}
        return torch.tensor([index.get(c, 0) for c in text], dtype=torch.long)

    def decode(self, ids) -> str:
        """Token ids -> characters."""
        return "".join(self.vocab[int(i)] for i in ids)

    def unigram_loss(self, split: str = "val") -> float:
        """Cross-entropy (nats per character) of ``split`` under the training split's character
        frequencies (add-one smoothed): what a model that ignores context scores."""
        counts = torch.bincount(self.train, minlength=self.vocab_size).double() + 1
        logp = (counts / counts.sum()).log()
        return float(-logp[getattr(self, split)].mean())

    def summary(self) -> dict:
        """Papers and characters per split, vocabulary size, and the unknown-character share of val."""
        return {
            **{f"{s}_papers": len(self.papers[s]) for s in ("train", "val", "test")},
            **{f"{s}_chars": int(getattr(self, s).numel()) for s in ("train", "val", "test")},
            "vocab_size": self.vocab_size,
            "val_unk_pct": 100 * float((self.val == 0).float().mean()) if self.val.numel() else 0.0,
            "unigram_val_bpc": self.unigram_loss("val") / math.log(2),
        }


def _documents(path: Path) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return sorted((r["id"], f"{r['title']}\n{r['abstract']}\n\n") for r in rows)


def text_corpus(
    *,
    val_frac: float = 0.05,
    test_frac: float = 0.05,
    seed: int = 0,
    max_papers: int | None = None,
    path: str | os.PathLike | None = None,
) -> TextCorpus:
    """The seed abstracts as a character-level corpus, split by paper.

    Args:
        val_frac: share of papers in the validation split (0 < val_frac < 1).
        test_frac: share of papers in the test split (>= 0; val + test < 1).
        seed: shuffling seed of the paper split (same seed, same split).
        max_papers: keep only the first ``max_papers`` papers of the shuffled order (smoke runs).
        path: the catalogue file (default ``datasets/literature/catalogue.jsonl``).

    Raises:
        ValueError: fractions out of range or too few papers for three splits.
        FileNotFoundError: the catalogue is missing.
    """
    if not 0 < val_frac < 1 or not 0 <= test_frac < 1 or val_frac + test_frac >= 1:
        raise ValueError(f"val_frac={val_frac} and test_frac={test_frac} must be in (0, 1) and [0, 1) with a sum below 1")
    src = Path(path) if path is not None else DATASETS_DIR / _SOURCE
    if not src.exists():
        raise FileNotFoundError(f"text corpus source {src} is missing (see datasets/literature/README.md)")
    checksum = hashlib.sha256(src.read_bytes()).hexdigest()
    docs = _documents(src)
    random.Random(seed).shuffle(docs)  # sorted first, so the order depends only on the seed
    if max_papers is not None:
        if max_papers < 3:
            raise ValueError(f"max_papers must be >= 3 (one paper per split), got {max_papers}")
        docs = docs[:max_papers]
    n_val = max(1, round(val_frac * len(docs)))
    n_test = round(test_frac * len(docs)) if test_frac else 0
    if n_val + n_test >= len(docs):
        raise ValueError(f"{len(docs)} papers are too few for val_frac={val_frac}, test_frac={test_frac}")
    parts = {"val": docs[:n_val], "test": docs[n_val : n_val + n_test], "train": docs[n_val + n_test :]}
    vocab = (UNK, *sorted({c for _, text in parts["train"] for c in text} - {UNK}))
    index = {c: i for i, c in enumerate(vocab)}

    def tokens(split: list[tuple[str, str]]) -> torch.Tensor:
        return torch.tensor([index.get(c, 0) for _, text in split for c in text], dtype=torch.long)

    return TextCorpus(
        train=tokens(parts["train"]), val=tokens(parts["val"]), test=tokens(parts["test"]), vocab=vocab,
        papers={s: tuple(pid for pid, _ in d) for s, d in parts.items()}, checksum=checksum, seed=seed,
        source=str(src),
    )  # fmt: skip
