"""A customer-support assistant: what an LLM conversation costs against the human ticket it avoids.

A user's own model, outside the sim package: ``sim run
examples/user_model/experiment.toml`` imports this file and finds the model
by the name the experiment gives.
"""

import sim

#: A conversation the assistant resolves avoids one support ticket.
TICKETS_PER_CONVERSATION = sim.Constant(1.0, "ticket/conversation")
TOKENS_PER_MTOKEN = sim.Constant(1e6, "token/Mtoken")


@sim.model(outputs={
    "tokens_per_conversation": sim.Output("tokens/conversation", "tokens read and written per conversation"),
    "cost_per_conversation": sim.Output("USD/conversation", "LLM cost per conversation", role="cost"),
    "savings_per_conversation": sim.Output("USD/conversation", "human support cost avoided per conversation",
                                           role="revenue"),
    "conversations_per_month": sim.Output("conversations/month", "conversations per month", role="volume"),
})
def support_bot(*, turns_per_conversation, input_tokens_per_turn, output_tokens_per_turn, price_input_usd_per_mtoken,
                output_input_price_ratio, resolution_rate, human_cost_per_ticket, monthly_conversations,
                tickets_per_conversation=TICKETS_PER_CONVERSATION, tokens_per_mtoken=TOKENS_PER_MTOKEN):
    """Cost of an LLM support conversation against the human ticket it resolves."""
    tokens_in = turns_per_conversation * input_tokens_per_turn
    tokens_out = turns_per_conversation * output_tokens_per_turn
    price_output = price_input_usd_per_mtoken * output_input_price_ratio
    cost = (tokens_in * price_input_usd_per_mtoken + tokens_out * price_output) / tokens_per_mtoken
    return {
        "tokens_per_conversation": tokens_in + tokens_out,
        "cost_per_conversation": cost,
        "savings_per_conversation": resolution_rate * human_cost_per_ticket * tickets_per_conversation,
        "conversations_per_month": monthly_conversations,
    }
