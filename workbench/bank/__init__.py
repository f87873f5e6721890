"""The model bank: trained models shared by every notebook and benchmark, trained once.

::

    import workbench as wb
    r = wb.bank.trained("mobilenetv2_050", "fmnist_short", small_input=True)
    r.model, r.history.final_acc, r.cache_hit

Recipes are named and documented (:data:`RECIPES`, ``wb.bank.RECIPES.get('fmnist_short')
.describe()``); keys are content-addressed (model code, kwargs, recipe, data, seed, torch,
device); entries are locked per key across processes, checksummed, and never half-written.
CLI: ``workbench bank list|build|clear``. Tasks beyond classification (SR, detection, language
models, supernets) bring their own training function: :func:`cached_train`.
"""

from .core import BankEntry, BankResult, BankWarning, clear, ensure, list_entries, status, trained
from .recipes import RECIPES, Recipe, get_recipe
from .store import BankCorrupt, bank_root
from .tasks import TaskEntry, TaskResult, cached_train

__all__ = [
    "RECIPES", "BankCorrupt", "BankEntry", "BankResult", "BankWarning", "Recipe", "TaskEntry", "TaskResult", "bank_root",
    "cached_train", "clear",
    "ensure", "get_recipe", "list_entries", "status", "trained",
]  # fmt: skip
