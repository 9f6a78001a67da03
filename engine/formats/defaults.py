"""The names every Rasa Pro 3.21 assistant has without declaring them.

Read from Rasa Pro's own lists (`rasa.shared.core.constants.DEFAULT_ACTION_NAMES` and
`DEFAULT_INTENTS`, and the default patterns' domain, `default_flows_for_patterns.yml`). A project
may use any of these without a domain entry, and may override the patterns and responses.
"""

from __future__ import annotations

#: config.yml's policies that run stories, rules and forms (Rasa's classic dialogue management).
CLASSIC_POLICIES = (
    "RulePolicy",
    "MemoizationPolicy",
    "AugmentedMemoizationPolicy",
    "TEDPolicy",
    "UnexpecTEDIntentPolicy",
)
#: The pipeline components that send each session to CALM or to the classic policies.
COEXISTENCE_ROUTERS = ("IntentBasedRouter", "LLMBasedRouter")

#: Actions Rasa runs by name; a flow, story or rule may use them undeclared.
DEFAULT_ACTIONS = frozenset(
    {
        "action_listen",
        "action_restart",
        "action_session_start",
        "action_default_fallback",
        "action_deactivate_loop",
        "action_revert_fallback_events",
        "action_default_ask_affirmation",
        "action_default_ask_rephrase",
        "action_two_stage_fallback",
        "action_unlikely_intent",
        "action_back",
        "action_send_text",
        "action_send_text_update",
        "action_agent_request_user_input",
        "action_extract_slots",
        "action_validate_slot_mappings",
        "action_cancel_flow",
        "action_correct_flow_slot",
        "action_clarify_flows",
        "action_run_slot_rejections",
        "action_clean_stack",
        "action_trigger_search",
        "action_trigger_chitchat",
        "action_reset_routing",
        "action_hangup",
        "action_handoff_metric",
        "action_repeat_bot_messages",
        "action_default_capabilities",
        "action_continue_interrupted_flow",
        "action_cancel_interrupted_flows",
        # Digression handling of newer Rasa Pro releases.
        "action_block_digression",
        "action_block_digressions",
        "action_continue_digression",
    }
)

#: Intents Rasa knows without a domain entry.
DEFAULT_INTENTS = frozenset(
    {
        "restart",
        "back",
        "out_of_scope",
        "session_start",
        "session_end",
        "silence_timeout",
        "nlu_fallback",
    }
)

#: Responses the default patterns define; usable (and overridable) without declaring them.
DEFAULT_RESPONSES = frozenset(
    {
        "utter_agent_busy",
        "utter_ask_continue_conversation",
        "utter_ask_continue_interrupted_flow_confirmation",
        "utter_ask_csat_score",
        "utter_ask_interrupted_flow_to_continue",
        "utter_ask_rephrase",
        "utter_ask_still_there",
        "utter_boolean_slot_rejection",
        "utter_can_do_something_else",
        "utter_cannot_handle",
        "utter_categorical_slot_rejection",
        "utter_clarification_no_options_rasa",
        "utter_clarification_options_rasa",
        "utter_closing_words",
        "utter_corrected_previous_input",
        "utter_csat_thank_you_satisfied",
        "utter_csat_thank_you_unsatisfied",
        "utter_default",
        "utter_float_slot_rejection",
        "utter_flow_cancelled_rasa",
        "utter_flow_continue_interrupted",
        "utter_free_chitchat_response",
        "utter_human_handoff_not_available",
        "utter_inform_code_change",
        "utter_inform_hangup",
        "utter_internal_error_rasa",
        "utter_no_knowledge_base",
        "utter_no_relevant_answer_found",
        "utter_skip_question_answer",
        "utter_user_input_empty_error_rasa",
        "utter_user_input_too_long_error_rasa",
    }
)

#: Conversation patterns Rasa Pro defines; a project may override them or link to them.
DEFAULT_PATTERNS = frozenset(
    {
        "pattern_cancel_flow",
        "pattern_cannot_handle",
        "pattern_chitchat",
        "pattern_clarification",
        "pattern_code_change",
        "pattern_collect_information",
        "pattern_completed",
        "pattern_continue_interrupted",
        "pattern_correction",
        "pattern_customer_satisfaction",
        "pattern_external_agent_processing",
        "pattern_human_handoff",
        "pattern_internal_error",
        "pattern_repeat_bot_messages",
        "pattern_restart",
        "pattern_search",
        "pattern_session_end",
        "pattern_session_start",
        "pattern_skip_question",
        "pattern_user_silence",
        "pattern_validate_slot",
    }
)

#: Slots the default patterns define (collected by their steps).
DEFAULT_PATTERN_SLOTS = frozenset(
    {
        "confirm_correction",
        "silence_timeout",
        "consecutive_silence_timeouts",
        "interrupted_flow_to_continue",
        "continue_interrupted_flow_confirmation",
        "max_clarification_options",
        "continue_conversation",
        "csat_score",
    }
)


def retrieval_base(intent: str) -> str:
    """`chitchat/ask_name` -> `chitchat`: a retrieval intent's examples count for its parent."""
    return intent.partition("/")[0]
