import json
import os

# Module-level state lives as long as the warm worker (--watch restarts it with the new code).
count = 0


def handler(event, context):
    global count
    count += 1
    event = event if isinstance(event, dict) else {}
    if "httpMethod" in event or event.get("version") == "2.0":  # an Api (1.0) or HttpApi (2.0) route
        params = event.get("queryStringParameters") or {}
        body = {"message": f"{os.environ['GREETING']}, {params.get('name', 'world')}!", "count": count}
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
    if "Records" in event:  # an S3 notification
        for r in event["Records"]:
            print(f"object {r['eventName']} s3://{r['s3']['bucket']['name']}/{r['s3']['object']['key']}")
        return None
    if event.get("detail-type") == "Scheduled Event":
        print(f"tick at {event['time']}")
        return None
    return {"message": f"{os.environ['GREETING']}, {event.get('name', 'world')}!", "count": count}
