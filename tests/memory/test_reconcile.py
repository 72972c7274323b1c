from __future__ import annotations

from memory.reconcile import Known, Plan, reconcile


def test_the_same_text_is_a_duplicate() -> None:
    known = [Known("a", "うちの猫はミルクです", None)]
    assert reconcile("うちの猫はミルクです！", None, known, [0.5]) == Plan("a", ())


def test_nearly_the_same_meaning_is_a_duplicate() -> None:
    known = [Known("a", "猫の名前はミルク", None)]
    assert reconcile("ミルクという名前の猫", None, known, [0.95]) == Plan("a", ())


def test_a_new_fact_in_the_same_slot_supersedes_the_old_one() -> None:
    known = [Known("osaka", "大阪に住んでいます", "residence"), Known("cat", "猫はミルク", "pet")]
    plan = reconcile("東京に引っ越しました", "residence", known, [0.4, 0.1])
    assert plan == Plan(None, ("osaka",))


def test_a_similar_fact_in_another_slot_is_not_a_duplicate() -> None:
    known = [Known("dog", "犬の名前はポチ", "pet_dog_name")]
    plan = reconcile("姉の犬の名前はポチ", "sister_dog_name", known, [0.96])
    assert plan == Plan(None, ())


def test_explicit_replacements_only_retire_known_memories() -> None:
    known = [Known("a", "乾燥肌です", "skin_type")]
    plan = reconcile("脂性肌になりました", None, known, [0.3], replaces=["a", "someone-else"])
    assert plan == Plan(None, ("a",))
