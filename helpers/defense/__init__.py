"""Defenses against evasion attacks: adversarial fine-tuning with FGSM-RS."""
