"""Lets an older botocore (Debian 12 ships 1.29) talk to SQS over the JSON protocol.

SQS has two wire protocols for one API: the original query protocol (form-encoded
requests, XML responses) and AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.<Operation>`), which
AWS added in November 2023; botocore >= 1.31.57 uses JSON. Local SQS emulators such as
fauxqs implement only JSON, so botocore 1.29's query requests never reach their SQS router.

The API (operations, members, errors) did not change, only the encoding. So the model that
botocore itself ships is rewritten into the JSON form that later botocore versions carry:
  - metadata: protocol "json", jsonVersion "1.0", targetPrefix "AmazonSQS";
  - JSON bodies use member names, so the query protocol's wire names (locationName, on
    members and on shapes, e.g. "Attribute" for a QueueAttributeMap), list flattening and
    resultWrapper are dropped.
The rewritten model goes to a private directory put first on AWS_DATA_PATH, which botocore's
loader searches before its own data (botocore.loaders.Loader: "AWS_DATA_PATH").

Call use_sqs_json_protocol() before the first boto3 client is created.
"""
import json
import os
import tempfile

import botocore
import botocore.loaders


def _json_model(query_model):
    model = json.loads(json.dumps(query_model))
    metadata = model["metadata"]
    metadata["protocol"] = "json"
    metadata["jsonVersion"] = "1.0"
    metadata["targetPrefix"] = "AmazonSQS"
    metadata.pop("xmlNamespace", None)
    for operation in model["operations"].values():
        operation.get("output", {}).pop("resultWrapper", None)
    for shape in model["shapes"].values():
        shape.pop("flattened", None)
        shape.pop("locationName", None)  # e.g. QueueAttributeMap's "Attribute"
        for member in shape.get("members", {}).values():
            member.pop("locationName", None)
            member.pop("flattened", None)
        for part in ("member", "key", "value"):
            if part in shape:
                shape[part].pop("locationName", None)
    return model


def use_sqs_json_protocol():
    """Returns the directory holding the rewritten model (kept for the process's life)."""
    loader = botocore.loaders.Loader()
    api_version = loader.determine_latest_version("sqs", "service-2")
    query_model = loader.load_service_model("sqs", "service-2", api_version)
    if query_model["metadata"].get("protocol") == "json":
        return None  # this botocore already speaks JSON to SQS (>= 1.31.57)
    data_dir = tempfile.mkdtemp(prefix="sqs-json-model-")
    model_dir = os.path.join(data_dir, "sqs", api_version)
    os.makedirs(model_dir)
    with open(os.path.join(model_dir, "service-2.json"), "w") as f:
        json.dump(_json_model(query_model), f)
    # Paginators and waiters are protocol-independent: botocore still finds its own in the
    # later entries of the search path.
    existing = os.environ.get("AWS_DATA_PATH")
    os.environ["AWS_DATA_PATH"] = data_dir + (os.pathsep + existing if existing else "")
    return data_dir
