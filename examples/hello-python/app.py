import json
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)

# Module-level state lives as long as the warm worker: the second invoke sees count == 2.
count = 0


def handler(event, context):
    global count
    count += 1
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    logger.info("greeting %s", name)
    return {
        "message": f"Hello, {name}!",
        "invocations_in_this_worker": count,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
