"""Durable asynchronous invocation (#6): the queue survives restarts and kill -9, retries follow the
event-invoke config, destinations receive AWS's invocation record."""
import json
import time

import pytest

from lambent_testlib import (create_function, expect_error, function_arn, log_lines, make_client, make_zip,
                             sink_records, unique_name, wait_until)

ECHO = "def handler(event, context):\n    print('EVENT ' + __import__('json').dumps(event))\n    return event\n"
FAIL = ("def handler(event, context):\n    print('ATTEMPT ' + context.aws_request_id)\n"
        "    raise RuntimeError('boom')\n")
SLOW = ("import time\n\ndef handler(event, context):\n    time.sleep(0.05)\n"
        "    print('EVENT ' + str(event['n']))\n    return event\n")


@pytest.fixture
def async_server(server_factory):
    return server_factory.new("async", extra_args=["--async-retry-delay", "0.2"])


def test_event_invoke_runs_and_success_destination_gets_the_record(async_server):
    c = make_client(async_server.url)
    fn, sink = unique_name("src"), unique_name("sink")
    create_function(c, fn, make_zip({"app.py": ECHO}))
    create_function(c, sink, make_zip({"app.py": ECHO}))
    c.put_function_event_invoke_config(FunctionName=fn, DestinationConfig={
        "OnSuccess": {"Destination": function_arn(sink)}})
    res = c.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"hello": "async"}).encode())
    assert res["StatusCode"] == 202
    request_id = res["ResponseMetadata"]["RequestId"]
    records = wait_until(lambda: sink_records(async_server.data_dir, sink), 15, what="the destination record")
    rec = records[0]
    assert rec["version"] == "1.0"
    assert rec["requestContext"] == {"requestId": request_id, "functionArn": function_arn(fn, "$LATEST"),
                                     "condition": "Success", "approximateInvokeCount": 1}
    assert rec["requestPayload"] == {"hello": "async"}
    assert rec["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert rec["responsePayload"] == {"hello": "async"}


def test_failures_are_retried_per_config_then_sent_to_on_failure(async_server):
    c = make_client(async_server.url)
    fn, sink = unique_name("fails"), unique_name("dlq")
    create_function(c, fn, make_zip({"app.py": FAIL}))
    create_function(c, sink, make_zip({"app.py": ECHO}))
    c.put_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=2, DestinationConfig={
        "OnFailure": {"Destination": function_arn(sink)}})
    res = c.invoke(FunctionName=fn, InvocationType="Event", Payload=b'{"x": 1}')
    request_id = res["ResponseMetadata"]["RequestId"]
    records = wait_until(lambda: sink_records(async_server.data_dir, sink), 20, what="the failure record")
    rec = records[0]
    assert rec["requestContext"]["condition"] == "RetriesExhausted"
    assert rec["requestContext"]["approximateInvokeCount"] == 3
    assert rec["responseContext"]["functionError"] == "Unhandled"
    assert rec["responsePayload"]["errorType"] == "RuntimeError"
    attempts = [l for l in log_lines(async_server.data_dir, fn) if l == f"ATTEMPT {request_id}"]
    assert len(attempts) == 3  # the same request id on every attempt


def test_zero_retries(async_server):
    c = make_client(async_server.url)
    fn = unique_name("once")
    create_function(c, fn, make_zip({"app.py": FAIL}))
    c.put_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=0)
    request_id = c.invoke(FunctionName=fn, InvocationType="Event", Payload=b"{}")["ResponseMetadata"]["RequestId"]
    wait_until(lambda: f"ATTEMPT {request_id}" in log_lines(async_server.data_dir, fn), 15, what="the attempt")
    time.sleep(1.5)  # several retry delays: nothing more may run
    assert log_lines(async_server.data_dir, fn).count(f"ATTEMPT {request_id}") == 1


@pytest.mark.parametrize("crash", ["graceful", "kill9"])
def test_queued_events_survive_restart(server_factory, crash):
    srv = server_factory.new("durable", extra_args=["--concurrency", "2"])
    c = make_client(srv.url)
    fn = unique_name("queue")
    create_function(c, fn, make_zip({"app.py": SLOW}))
    for n in range(100):
        assert c.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"n": n}).encode())["StatusCode"] == 202
    srv.restart(graceful=crash == "graceful") if crash == "graceful" else (srv.kill9(), srv.start())

    def seen():
        nums = [int(l.split()[1]) for l in log_lines(srv.data_dir, fn) if l.startswith("EVENT ")]
        return nums if len(set(nums)) == 100 else None

    nums = wait_until(seen, 60, what="all 100 events")
    counts = {n: nums.count(n) for n in set(nums)}
    # Exactly once, or at most once more than that for the events running at the crash (an attempt
    # started before the crash counts against the retry policy of 2).
    assert max(counts.values()) <= 3, counts
    if crash == "graceful":
        assert sum(counts.values()) <= 102, counts


def test_event_invoke_config_api(server):
    c = make_client(server.url)
    fn = unique_name("eic")
    create_function(c, fn)
    with expect_error("ResourceNotFoundException", 404,
                      f"The function {function_arn(fn, '$LATEST')} doesn't have an EventInvokeConfig"):
        c.get_function_event_invoke_config(FunctionName=fn)
    put = c.put_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=1, MaximumEventAgeInSeconds=120)
    assert put["MaximumRetryAttempts"] == 1 and put["MaximumEventAgeInSeconds"] == 120
    assert put["FunctionArn"] == function_arn(fn, "$LATEST")
    upd = c.update_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=0)
    assert upd["MaximumRetryAttempts"] == 0 and upd["MaximumEventAgeInSeconds"] == 120
    assert [x["FunctionArn"] for x in c.list_function_event_invoke_configs(FunctionName=fn)["FunctionEventInvokeConfigs"]] == [function_arn(fn, "$LATEST")]
    with expect_error("ValidationException", 400):
        c.put_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=3)
    with expect_error("InvalidParameterValueException", 400):
        c.put_function_event_invoke_config(FunctionName=fn, DestinationConfig={
            "OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:q"}})
    with expect_error("InvalidParameterValueException", 400, "You can't specify the function as a destination for itself."):
        c.put_function_event_invoke_config(FunctionName=fn, DestinationConfig={
            "OnFailure": {"Destination": function_arn(fn)}})
    c.delete_function_event_invoke_config(FunctionName=fn)
    with expect_error("ResourceNotFoundException", 404):
        c.get_function_event_invoke_config(FunctionName=fn)
