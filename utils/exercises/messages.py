"""Every message the exercise checker prints, in English and in Chinese, in one catalogue.

A notebook chooses its language once, in its first cell: `utils.exercises.set_language("zh")`,
or, as the Chinese edition does, with the environment variable `COURSE_LANG=zh` (its first
line is `%env COURSE_LANG=zh`). `set_language` wins over the variable. The default is English. Exercise titles and hints come from the exercise itself
(`Exercise.title` / `title_zh`, `Mistake.hint` / `hint_zh`); everything else is here.
"""

from __future__ import annotations

import os
from typing import Any

LANGUAGES = ("en", "zh")
_state: dict[str, str | None] = {"language": None}  # None: follow COURSE_LANG, else English


def set_language(language: str) -> None:
    """Choose the language of the checker's messages: "en" (the default) or "zh"."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    _state["language"] = language


def get_language() -> str:
    """The language the checker prints in now: "en" or "zh"."""
    if _state["language"] is not None:
        return _state["language"]
    from_env = os.environ.get("COURSE_LANG", "en")
    if from_env not in LANGUAGES:
        raise ValueError(f"COURSE_LANG must be one of {LANGUAGES}, got {from_env!r}")
    return from_env


# key: (English, Chinese). Fields in braces are filled by `text`.
MESSAGES: dict[str, tuple[str, str]] = {
    # the verdict line
    "head": ("Exercise {id} ({title})", "练习 {id}（{title}）"),
    "solved": ("{head}: solved. Passed all {n} checks.", "{head}：已解决，{n} 项检查全部通过。"),
    "solved_value": ("{head}: solved.", "{head}：已解决。"),
    "not_attempted": ("{head}: not attempted yet. Replace the stub's body with your code.",
                      "{head}：尚未作答。请把占位函数的函数体换成你的代码。"),
    "not_attempted_value": ("{head}: not attempted yet. Replace the `...` with your answer.",
                            "{head}：尚未作答。请把 `...` 换成你的答案。"),
    "wrong": ("{head}: wrong.", "{head}：答案有误。"),
    "wrong_value": ("{head}: wrong. You answered {got}.", "{head}：答案有误。你的答案是 {got}。"),
    "not_callable": ("{head}: wrong. Pass the function itself, got {got}.",
                     "{head}：答案有误。请传入函数本身，而不是 {got}。"),
    "raised": ("{head}: wrong. Your function raised {error}: {detail}",
               "{head}：答案有误。你的函数抛出了 {error}：{detail}"),
    "returned_none": ("{head}: wrong. Your function returned None: did you forget `return`?",
                      "{head}：答案有误。你的函数返回了 None，是不是忘了写 `return`？"),
    "answer_none": ("{head}: wrong. Your answer is None: assign the value itself (not the result of print).",
                    "{head}：答案有误。你的答案是 None。请直接赋值答案本身（而不是 print 的返回值）。"),
    "forbidden": ("{head}: wrong. This exercise asks you to write it without `{name}`.",
                  "{head}：答案有误。这道练习要求不调用 `{name}`，自己实现。"),
    "needs_loops": ("{head}: wrong. This exercise asks for explicit Python loops: your function has no `for` loop.",
                    "{head}：答案有误。这道练习要求用显式的 Python 循环，但你的函数里没有 `for` 循环。"),
    "no_loops": ("{head}: wrong. This exercise asks for no Python loops: your function has a `for` loop "
                 "(or a comprehension).",
                 "{head}：答案有误。这道练习要求不用 Python 循环，但你的函数里有 `for` 循环（或推导式）。"),
    "modified_input": ("{head}: wrong. Your function changed its input `{name}` in place: work on a copy "
                       "(for example `x = x.copy()`), the caller still needs the original.",
                       "{head}：答案有误。你的函数原地修改了输入 `{name}`。请在副本上操作"
                       "（例如 `x = x.copy()`），调用者还要用原来的值。"),
    "failing_case": ("  failing case {number}/{total} '{label}': input {input}",
                     "  未通过的用例 {number}/{total}「{label}」：输入 {input}"),
    "hint": ("  hint: {hint}", "  提示：{hint}"),
    "why": ("  {reason}", "  {reason}"),
    # one line saying what was expected and what came back
    "result": ("result {index}: ", "第 {index} 个结果："),
    "result_named": ("result {index} (`{name}`): ", "第 {index} 个结果（`{name}`）："),
    "count": ("{which}expected {expected} results, got {got}", "{which}应返回 {expected} 个结果，实际返回 {got} 个"),
    "type": ("{which}expected {expected}, got {got}", "{which}应为{expected}，实际得到{got}"),
    "shape": ("{which}expected shape {expected}, got shape {got}", "{which}形状应为 {expected}，实际为 {got}"),
    "bool_mask": ("{which}expected a boolean mask (dtype bool), got dtype {dtype} with 0/1 values: "
                  "return the comparison itself, not .astype(float)",
                  "{which}应返回布尔掩码（dtype bool），实际是取值为 0/1 的 {dtype}：直接返回比较的结果，"
                  "不要 .astype(float)"),
    "bool_dtype": ("{which}expected a boolean array (dtype bool), got dtype {dtype}",
                   "{which}应返回布尔数组（dtype bool），实际 dtype 为 {dtype}"),
    "int_dtype": ("{which}expected integers (an integer dtype), got dtype {dtype}",
                  "{which}应返回整数（整数 dtype），实际 dtype 为 {dtype}"),
    "not_bool": ("{which}expected numbers, got a boolean array", "{which}应返回数值，实际得到布尔数组"),
    "masked": ("{which}got a NumPy masked array: return a plain array (fill it with np.ma.filled)",
               "{which}得到的是 NumPy 掩码数组：请返回普通数组（可用 np.ma.filled 填充）"),
    "nan": ("{which}NaN at index {index}: expected {expected}, got nan", "{which}索引 {index} 处出现 NaN：应为 {expected}"),
    "max_diff": ("{which}max |difference| {delta} at index {index}: expected {expected}, got {got}",
                 "{which}最大绝对误差 {delta}，位于索引 {index}：应为 {expected}，实际为 {got}"),
    "at_index": ("{which}at index {index}: expected {expected}, got {got}",
                 "{which}索引 {index} 处：应为 {expected}，实际为 {got}"),
    "values": ("{which}expected {expected}, got {got}", "{which}应为 {expected}，实际为 {got}"),
    "keys": ("{which}expected the keys {expected}, got {got}", "{which}键应为 {expected}，实际为 {got}"),
    "values_differ": ("values differ", "数值不一致"),
    # the names of kinds of value, used in the "type" line
    "kind_array": ("an array", "数组"),
    "kind_tuple": ("a tuple of {n}", "含 {n} 个元素的元组"),
    "kind_list": ("a list of {n}", "含 {n} 个元素的列表"),
    "kind_str": ("a str {value}", "字符串 {value}"),
    "kind_int": ("an int", "整数"),
    "kind_float": ("a float", "浮点数"),
    "kind_number": ("a number", "数值"),
    "kind_bool": ("a bool", "布尔值"),
    "kind_none": ("None", "None"),
    "kind_dict": ("a dict", "字典"),
    "kind_sequence": ("a tuple", "元组"),
    "kind_masked": ("a masked array", "掩码数组"),
    "kind_other": ("a {name}", "{name} 对象"),
    # the strict flag of check()
    "strict": ("exercise {id} is {status}, not solved", "练习 {id} 的状态是「{status}」，没有通过"),
    "status_solved": ("solved", "已解决"),
    "status_not attempted": ("not attempted", "尚未作答"),
    "status_wrong": ("wrong", "答案有误"),
}


def text(key: str, **fields: Any) -> str:
    """The message `key` in the current language, with its fields filled in."""
    english, chinese = MESSAGES[key]
    return (chinese if get_language() == "zh" else english).format(**fields)


def title_of(exercise: Any) -> str:
    """The exercise's title in the current language (English when no Chinese title is registered)."""
    if get_language() == "zh" and getattr(exercise, "title_zh", None):
        return exercise.title_zh
    return exercise.title


def hint_of(mistake: Any) -> str:
    """The mistake's hint in the current language (English when no Chinese hint is registered)."""
    if get_language() == "zh" and getattr(mistake, "hint_zh", None):
        return mistake.hint_zh
    return mistake.hint
