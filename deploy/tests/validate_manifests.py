#!/usr/bin/env python3
"""Static checks of deploy/: every manifest parses, and the pieces agree with each other
and with the service (probe paths and port, shutdown timing, documented variables, the
IAM actions the code uses, the Dockerfile's use of scripts/install-deps.sh).

Run: python3 deploy/tests/validate_manifests.py   (ctest: deploy_manifests, label unit)
Each check returns a list of problems; the second test class breaks a copy of the real
manifests on purpose to prove every check can fail.
"""

import configparser
import copy
import json
import re
import sys
import unittest
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent.parent
REPO = DEPLOY.parent
K8S = DEPLOY / "kubernetes"
CONFIG_EXAMPLE = REPO / "config.env.example"

# What the worker does with AWS, and nothing more (see deploy/aws/cloudformation.yaml).
ALLOWED_ACTIONS = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:SendMessage",
    "s3:GetObject",
    "s3:PutObject",
}
QUEUE_NAME = "dancer-processing-queue"


# --- loading ---------------------------------------------------------------------------


class CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation's short-form tags into their long form."""


def _construct_intrinsic(loader, tag_suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + tag_suffix: value}


CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


def load_yaml_documents(path, loader=yaml.SafeLoader):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.load_all(f, Loader=loader) if d is not None]


def load_kubernetes():
    """kind -> list of objects, from every YAML file in deploy/kubernetes."""
    objects = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in load_yaml_documents(path):
            objects.setdefault(doc.get("kind"), []).append(doc)
    return objects


def one(objects, kind):
    found = objects.get(kind, [])
    if len(found) != 1:
        raise AssertionError(f"expected exactly one {kind}, found {len(found)}")
    return found[0]


def documented_variables():
    """Names in config.env.example (KEY=... lines, commented or not), or None if absent."""
    if not CONFIG_EXAMPLE.exists():
        return None
    names = set()
    for line in CONFIG_EXAMPLE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*#?\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=", line)
        if m:
            names.add(m.group(1))
    return names


def stages(dockerfile_text):
    """[(from-line, [instruction lines])] with continuation lines joined."""
    joined = re.sub(r"\\\n", " ", dockerfile_text)
    result = []
    for line in joined.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.upper().startswith("FROM "):
            result.append((stripped, []))
        elif result:
            result[-1][1].append(stripped)
    return result


# --- checks (each returns a list of problems) -----------------------------------------


def check_kubernetes_objects(objects):
    problems = []
    for kind, docs in objects.items():
        for doc in docs:
            if kind == "Kustomization":
                continue
            for field in ("apiVersion", "kind"):
                if not doc.get(field):
                    problems.append(f"{kind}: missing {field}")
            metadata = doc.get("metadata") or {}
            if not metadata.get("name"):
                problems.append(f"{kind}: missing metadata.name")
            if "namespace" in metadata:
                problems.append(f"{kind} {metadata.get('name')}: must be namespace-less")
    return problems


def container_of(deployment):
    return deployment["spec"]["template"]["spec"]["containers"][0]


def config_data(configmap):
    return {k: str(v) for k, v in (configmap.get("data") or {}).items()}


def check_probes(deployment, configmap):
    problems = []
    container = container_of(deployment)
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    if not ports:
        return ["container declares no port"]
    health_port = config_data(configmap).get("HEALTH_PORT")
    if health_port is not None and int(health_port) not in ports.values():
        problems.append(f"HEALTH_PORT {health_port} is not a container port {sorted(ports.values())}")
    for probe_name, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        probe = container.get(probe_name)
        if not probe or "httpGet" not in probe:
            problems.append(f"{probe_name}: missing httpGet")
            continue
        get = probe["httpGet"]
        if get.get("path") != path:
            problems.append(f"{probe_name}: path {get.get('path')!r}, expected {path}")
        port = get.get("port")
        resolved = ports.get(port) if isinstance(port, str) else port
        if resolved not in ports.values():
            problems.append(f"{probe_name}: port {port!r} is not a container port")
        elif health_port is not None and resolved != int(health_port):
            problems.append(f"{probe_name}: port {resolved} is not HEALTH_PORT {health_port}")
    return problems


def env_value(deployment, configmap, name):
    for entry in container_of(deployment).get("env", []):
        if entry.get("name") == name and "value" in entry:
            return str(entry["value"])
    return config_data(configmap).get(name)


def check_shutdown_timing(deployment, configmap):
    grace = deployment["spec"]["template"]["spec"].get("terminationGracePeriodSeconds")
    timeout = env_value(deployment, configmap, "SHUTDOWN_TIMEOUT")
    if grace is None or timeout is None:
        return ["terminationGracePeriodSeconds and SHUTDOWN_TIMEOUT must both be set"]
    if not int(grace) > int(timeout):
        return [f"terminationGracePeriodSeconds {grace} must exceed SHUTDOWN_TIMEOUT {timeout}"]
    return []


def referenced_variables(deployment, configmap, secret):
    """Every environment variable name the Deployment gives its container."""
    names = set()
    container = container_of(deployment)
    for entry in container.get("env", []):
        names.add(entry["name"])
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            if source["configMapRef"]["name"] == configmap["metadata"]["name"]:
                names |= set(config_data(configmap))
        if "secretRef" in source and secret is not None:
            names |= set((secret.get("stringData") or {})) | set((secret.get("data") or {}))
    return names


def check_variables_documented(deployment, configmap, secret, documented):
    if documented is None:
        return []  # config.env.example not written yet: nothing to compare with
    missing = sorted(referenced_variables(deployment, configmap, secret) - documented)
    return [f"{name} is set by the Deployment but not documented in config.env.example"
            for name in missing]


def check_references(deployment, configmap, secret, service_account):
    problems = []
    container = container_of(deployment)
    secret_keys = set((secret.get("stringData") or {})) | set((secret.get("data") or {}))
    for entry in container.get("env", []):
        ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            if ref["name"] != secret["metadata"]["name"] or ref["key"] not in secret_keys:
                problems.append(f"env {entry['name']}: secret {ref['name']}/{ref['key']} undefined")
        ref = (entry.get("valueFrom") or {}).get("configMapKeyRef")
        if ref and ref["key"] not in config_data(configmap):
            problems.append(f"env {entry['name']}: configmap key {ref['key']} undefined")
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref and ref["name"] != configmap["metadata"]["name"]:
            problems.append(f"envFrom: unknown ConfigMap {ref['name']}")
    pod = deployment["spec"]["template"]["spec"]
    if pod.get("serviceAccountName") != service_account["metadata"]["name"]:
        problems.append("Deployment does not use the ServiceAccount")
    annotations = service_account["metadata"].get("annotations") or {}
    if not str(annotations.get("eks.amazonaws.com/role-arn", "")).startswith("arn:aws:iam::"):
        problems.append("ServiceAccount lacks the IRSA eks.amazonaws.com/role-arn annotation")
    selector = deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    if any(labels.get(k) != v for k, v in selector.items()):
        problems.append("Deployment selector does not match its pod labels")
    return problems


def check_security(deployment, configmap):
    problems = []
    pod = deployment["spec"]["template"]["spec"]
    container = container_of(deployment)
    pod_sc = pod.get("securityContext") or {}
    sc = container.get("securityContext") or {}
    if not (sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True):
        problems.append("runAsNonRoot must be true")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append("readOnlyRootFilesystem must be true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation must be false")
    resources = container.get("resources") or {}
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in (resources.get(kind) or {}):
                problems.append(f"resources.{kind}.{resource} missing")
    empty_dirs = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
    writable_mounts = [m["mountPath"].rstrip("/") for m in container.get("volumeMounts", [])
                       if m["name"] in empty_dirs and not m.get("readOnly")]
    download_dir = env_value(deployment, configmap, "DOWNLOAD_DIR")
    if not download_dir or not download_dir.startswith("/"):
        problems.append("DOWNLOAD_DIR must be an absolute path")
    elif not any(download_dir == m or download_dir.startswith(m + "/") for m in writable_mounts):
        problems.append(f"DOWNLOAD_DIR {download_dir} is not on an emptyDir volume")
    log_file = env_value(deployment, configmap, "LOG_FILE")
    if log_file and not any(log_file.startswith(m + "/") for m in writable_mounts):
        problems.append(f"LOG_FILE {log_file} is on the read-only root filesystem")
    return problems


def check_keda(objects, deployment):
    problems = []
    scaled = one(objects, "ScaledObject")
    spec = scaled["spec"]
    if spec["scaleTargetRef"]["name"] != deployment["metadata"]["name"]:
        problems.append("ScaledObject does not target the Deployment")
    low, high = spec.get("minReplicaCount"), spec.get("maxReplicaCount")
    if low is None or high is None or not 0 <= low <= high:
        problems.append(f"replica bounds {low}..{high} are not valid")
    triggers = [t for t in spec.get("triggers", []) if t.get("type") == "aws-sqs-queue"]
    if not triggers:
        return problems + ["no aws-sqs-queue trigger"]
    metadata = triggers[0].get("metadata") or {}
    if not str(metadata.get("queueURL", "")).endswith("/" + QUEUE_NAME):
        problems.append(f"trigger queueURL does not name {QUEUE_NAME}")
    if not str(metadata.get("queueLength", "")).isdigit():
        problems.append("trigger queueLength must be a positive integer string")
    auth_name = (triggers[0].get("authenticationRef") or {}).get("name")
    auths = {a["metadata"]["name"]: a for a in objects.get("TriggerAuthentication", [])}
    if auth_name not in auths:
        problems.append(f"trigger authenticationRef {auth_name!r} is not defined")
    elif not (auths[auth_name]["spec"].get("podIdentity") or {}).get("provider"):
        problems.append("TriggerAuthentication has no podIdentity provider")
    return problems


def check_pdb(objects, deployment):
    pdb = one(objects, "PodDisruptionBudget")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = pdb["spec"]["selector"]["matchLabels"]
    problems = []
    if any(labels.get(k) != v for k, v in selector.items()):
        problems.append("PodDisruptionBudget selector does not match the Deployment's pods")
    if "minAvailable" not in pdb["spec"] and "maxUnavailable" not in pdb["spec"]:
        problems.append("PodDisruptionBudget sets neither minAvailable nor maxUnavailable")
    return problems


def as_list(value):
    return value if isinstance(value, list) else [value]


def check_policy_actions(policy_document):
    problems = []
    actions = set()
    for statement in policy_document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        for action in as_list(statement.get("Action", [])):
            actions.add(action)
            if "*" in action:
                problems.append(f"wildcard action {action}")
        for resource in as_list(statement.get("Resource", [])):
            if resource == "*":
                problems.append(f"statement {statement.get('Sid')} applies to every resource")
    if actions != ALLOWED_ACTIONS:
        extra, missing = sorted(actions - ALLOWED_ACTIONS), sorted(ALLOWED_ACTIONS - actions)
        problems.append(f"IAM actions differ: extra {extra}, missing {missing}")
    return problems


def resource_text(resource):
    """A resource as text, with Fn::Sub's template unwrapped."""
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return json.dumps(resource) if not isinstance(resource, str) else resource


def check_iam_resources(policy_document, uploads_pattern, results_pattern):
    problems = []
    for statement in policy_document.get("Statement", []):
        actions = as_list(statement.get("Action", []))
        resources = [resource_text(r) for r in as_list(statement.get("Resource", []))]
        if "s3:GetObject" in actions and not all(re.search(uploads_pattern, r) for r in resources):
            problems.append(f"s3:GetObject must be limited to the uploads prefix: {resources}")
        if "s3:PutObject" in actions and not all(re.search(results_pattern, r) for r in resources):
            problems.append(f"s3:PutObject must be limited to the results prefix: {resources}")
        if any(a.startswith("sqs:") for a in actions) and not all(
                "sqs" in r or "Queue" in r for r in resources):
            problems.append(f"sqs actions on something other than the queues: {resources}")
    return problems


def check_cloudformation(template):
    problems = []
    resources = template.get("Resources") or {}
    by_type = {}
    for name, resource in resources.items():
        by_type.setdefault(resource.get("Type"), []).append((name, resource))
    queues = dict(by_type.get("AWS::SQS::Queue", []))
    main = [(n, r) for n, r in queues.items() if "RedrivePolicy" in r.get("Properties", {})]
    if len(main) != 1:
        return problems + ["expected one queue with a RedrivePolicy"]
    main_name, main_queue = main[0]
    props = main_queue["Properties"]
    if props.get("VisibilityTimeout") != 300:
        problems.append(f"VisibilityTimeout {props.get('VisibilityTimeout')}, expected 300")
    redrive = props["RedrivePolicy"]
    if redrive.get("maxReceiveCount") != 5:
        problems.append(f"maxReceiveCount {redrive.get('maxReceiveCount')}, expected 5")
    target = (redrive.get("deadLetterTargetArn") or {}).get("Fn::GetAtt", [None])
    if target[0] not in queues or target[0] == main_name:
        problems.append("RedrivePolicy must target the dead-letter queue defined here")
    if QUEUE_NAME not in json.dumps(template.get("Parameters", {})) + json.dumps(props):
        problems.append(f"the queue is not named {QUEUE_NAME}")

    buckets = by_type.get("AWS::S3::Bucket", [])
    configs = []
    for _, bucket in buckets:
        configs += ((bucket["Properties"].get("NotificationConfiguration") or {})
                    .get("QueueConfigurations") or [])
    if not configs:
        problems.append("no S3 event notification to the queue")
    params = template.get("Parameters") or {}
    for config in configs:
        if (config.get("Queue") or {}).get("Fn::GetAtt", [None])[0] != main_name:
            problems.append("S3 notification does not target the processing queue")
        rules = config.get("Filter", {}).get("S3Key", {}).get("Rules", [])
        prefixes = [r["Value"] for r in rules if r.get("Name") == "prefix"]
        values = [params.get(p["Ref"], {}).get("Default") if isinstance(p, dict) else p
                  for p in prefixes]
        if values != ["uploads/"]:
            problems.append(f"S3 notification prefix {values}, expected ['uploads/']")
        if not str(config.get("Event", "")).startswith("s3:ObjectCreated:"):
            problems.append("S3 notification must be for s3:ObjectCreated events")
    if not by_type.get("AWS::SQS::QueuePolicy"):
        problems.append("no queue policy letting S3 send notifications")

    policies = by_type.get("AWS::IAM::ManagedPolicy", []) + by_type.get("AWS::IAM::Policy", [])
    if len(policies) != 1:
        return problems + [f"expected one IAM policy, found {len(policies)}"]
    document = policies[0][1]["Properties"]["PolicyDocument"]
    problems += check_policy_actions(document)
    problems += check_iam_resources(document, r"\$\{UploadPrefix\}\*$", r"\$\{ResultsPrefix\}\*$")
    return problems


def check_dockerfile(text):
    problems = []
    found = stages(text)
    if len(found) < 2:
        return ["the Dockerfile must have a build stage and a runtime stage"]
    build_from, build_lines = found[0]
    if not re.match(r"FROM\s+debian:12(\s|$)", build_from, re.I):
        problems.append(f"build stage must start FROM debian:12, not {build_from!r}")
    if not any(re.match(r"RUN\s.*scripts/install-deps\.sh", l) for l in build_lines):
        problems.append("the build stage must RUN scripts/install-deps.sh")
    if not any(l.startswith("RUN") and "CMAKE_BUILD_TYPE=Release" in l for l in build_lines):
        problems.append("the build stage must build with CMAKE_BUILD_TYPE=Release")
    final_from, final_lines = found[-1]
    if not re.match(r"FROM\s+debian:12-slim(\s|$)", final_from, re.I):
        problems.append(f"runtime stage must be FROM debian:12-slim, not {final_from!r}")
    if any("-dev" in re.findall(r"\S+", l) or re.search(r"\slib\S+-dev\b", l)
           for l in final_lines if l.startswith("RUN")):
        problems.append("the runtime stage installs development packages")
    users = [l.split(None, 1)[1] for l in final_lines if l.startswith("USER ")]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the runtime stage must switch to a non-root USER")
    if not any(l.startswith("HEALTHCHECK ") and "/healthz" in l for l in final_lines):
        problems.append("the runtime stage needs a HEALTHCHECK on /healthz")
    entry = [l for l in final_lines if l.startswith("ENTRYPOINT ")]
    if not entry:
        problems.append("no ENTRYPOINT")
    else:
        try:
            argv = json.loads(entry[-1].split(None, 1)[1])
        except ValueError:
            argv = []
        if len(argv) < 2 or not argv[0].endswith("dancer-analysis") or argv[1] != "run":
            problems.append(f"ENTRYPOINT must be exec-form [.../dancer-analysis, run]: {entry[-1]}")
    return problems


def check_systemd(text):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(text)
    problems = []
    if not parser.has_section("Service") or not parser.has_section("Install"):
        return ["unit needs [Service] and [Install] sections"]
    service = parser["Service"]
    expected = {"Type": "simple", "Restart": "on-failure", "KillSignal": "SIGTERM",
                "NoNewPrivileges": "yes", "ProtectSystem": "strict"}
    for key, value in expected.items():
        if service.get(key) != value:
            problems.append(f"{key}={service.get(key)}, expected {value}")
    for key in ("EnvironmentFile", "ReadWritePaths", "ExecStart"):
        if not service.get(key):
            problems.append(f"{key} missing")
    if not re.search(r"dancer-analysis run$", service.get("ExecStart", "")):
        problems.append("ExecStart must run `dancer-analysis run`")
    timeout = service.get("TimeoutStopSec", "")
    if not timeout.isdigit() or int(timeout) <= 25:
        problems.append(f"TimeoutStopSec={timeout} must exceed the default SHUTDOWN_TIMEOUT 25")
    return problems


# --- tests -----------------------------------------------------------------------------


class Manifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objects = load_kubernetes()
        cls.deployment = one(cls.objects, "Deployment")
        cls.configmap = one(cls.objects, "ConfigMap")
        cls.secret = one(cls.objects, "Secret")
        cls.service_account = one(cls.objects, "ServiceAccount")
        cls.template = load_yaml_documents(DEPLOY / "aws" / "cloudformation.yaml",
                                           CloudFormationLoader)[0]

    def assertNoProblems(self, problems):
        self.assertEqual(problems, [], "\n".join(problems))

    def test_every_yaml_and_json_file_parses(self):
        files = sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
        self.assertGreaterEqual(len(files), 8, files)
        for path in files:
            with self.subTest(path=str(path.relative_to(REPO))):
                if path.suffix == ".json":
                    json.loads(path.read_text(encoding="utf-8"))
                else:
                    # CloudFormation's tags need their loader; everything else is plain YAML.
                    loader = CloudFormationLoader if path.parent.name == "aws" else yaml.SafeLoader
                    self.assertTrue(load_yaml_documents(path, loader))

    def test_kubernetes_objects_are_well_formed(self):
        expected = {"Deployment", "ConfigMap", "Secret", "ServiceAccount", "ScaledObject",
                    "TriggerAuthentication", "PodDisruptionBudget"}
        self.assertLessEqual(expected, set(self.objects))
        self.assertNoProblems(check_kubernetes_objects(self.objects))

    def test_probes_point_at_the_health_server(self):
        self.assertNoProblems(check_probes(self.deployment, self.configmap))

    def test_grace_period_exceeds_shutdown_timeout(self):
        self.assertNoProblems(check_shutdown_timing(self.deployment, self.configmap))

    def test_every_variable_is_documented(self):
        documented = documented_variables()
        if documented is None:
            print(f"note: {CONFIG_EXAMPLE} absent, variable names not compared", file=sys.stderr)
        self.assertNoProblems(check_variables_documented(self.deployment, self.configmap,
                                                         self.secret, documented))

    def test_references_resolve(self):
        self.assertNoProblems(check_references(self.deployment, self.configmap, self.secret,
                                               self.service_account))

    def test_pod_is_locked_down(self):
        self.assertNoProblems(check_security(self.deployment, self.configmap))

    def test_keda_scales_the_deployment_on_the_queue(self):
        self.assertNoProblems(check_keda(self.objects, self.deployment))

    def test_disruption_budget_covers_the_pods(self):
        self.assertNoProblems(check_pdb(self.objects, self.deployment))

    def test_cloudformation_template(self):
        self.assertNoProblems(check_cloudformation(self.template))

    def test_standalone_iam_policy_matches(self):
        document = json.loads((DEPLOY / "aws" / "iam-policy.json").read_text(encoding="utf-8"))
        self.assertNoProblems(check_policy_actions(document))
        self.assertNoProblems(check_iam_resources(document, r":::dancer-uploads/uploads/\*$",
                                                  r":::dancer-uploads/results/\*$"))

    def test_standalone_s3_notification(self):
        config = json.loads((DEPLOY / "aws" / "s3-notification.json").read_text(encoding="utf-8"))
        [queue] = config["QueueConfigurations"]
        self.assertTrue(queue["QueueArn"].endswith(":" + QUEUE_NAME))
        self.assertEqual(queue["Filter"]["Key"]["FilterRules"],
                         [{"Name": "prefix", "Value": "uploads/"}])

    def test_dockerfile(self):
        self.assertNoProblems(check_dockerfile((DEPLOY / "Dockerfile").read_text(encoding="utf-8")))
        self.assertTrue((REPO / "scripts" / "install-deps.sh").exists())

    def test_systemd_unit(self):
        text = (DEPLOY / "systemd" / "dancer-analysis.service").read_text(encoding="utf-8")
        self.assertNoProblems(check_systemd(text))


class ChecksCatchBreakage(unittest.TestCase):
    """Each check, fed a deliberately broken copy of the real manifests, reports it."""

    @classmethod
    def setUpClass(cls):
        Manifests.setUpClass()
        cls.m = Manifests

    def broken_deployment(self):
        return copy.deepcopy(self.m.deployment)

    def test_wrong_probe_path_or_port(self):
        d = self.broken_deployment()
        container_of(d)["readinessProbe"]["httpGet"]["path"] = "/healthz"
        self.assertTrue(check_probes(d, self.m.configmap))
        d = self.broken_deployment()
        container_of(d)["livenessProbe"]["httpGet"]["port"] = 9090
        self.assertTrue(check_probes(d, self.m.configmap))
        cm = copy.deepcopy(self.m.configmap)
        cm["data"]["HEALTH_PORT"] = "9000"
        self.assertTrue(check_probes(self.m.deployment, cm))

    def test_grace_period_not_above_shutdown_timeout(self):
        d = self.broken_deployment()
        d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 25
        self.assertTrue(check_shutdown_timing(d, self.m.configmap))

    def test_undocumented_variable(self):
        d = self.broken_deployment()
        container_of(d)["env"].append({"name": "NOT_A_REAL_SETTING", "value": "1"})
        problems = check_variables_documented(d, self.m.configmap, self.m.secret,
                                              {"DATABASE_URL", "REPORT_DIR"} | set(
                                                  config_data(self.m.configmap)))
        self.assertEqual(len(problems), 1)
        self.assertIn("NOT_A_REAL_SETTING", problems[0])

    def test_namespaced_or_nameless_object(self):
        objects = copy.deepcopy(self.m.objects)
        objects["ConfigMap"][0]["metadata"]["namespace"] = "prod"
        del objects["Deployment"][0]["metadata"]["name"]
        self.assertEqual(len(check_kubernetes_objects(objects)), 2)

    def test_writable_root_or_download_dir_off_volume(self):
        d = self.broken_deployment()
        container_of(d)["securityContext"]["readOnlyRootFilesystem"] = False
        self.assertTrue(check_security(d, self.m.configmap))
        cm = copy.deepcopy(self.m.configmap)
        cm["data"]["DOWNLOAD_DIR"] = "/opt/downloads"
        self.assertTrue(check_security(self.m.deployment, cm))

    def test_dangling_references(self):
        d = self.broken_deployment()
        d["spec"]["template"]["spec"]["serviceAccountName"] = "default"
        self.assertTrue(check_references(d, self.m.configmap, self.m.secret,
                                         self.m.service_account))
        objects = copy.deepcopy(self.m.objects)
        objects["ScaledObject"][0]["spec"]["triggers"][0]["authenticationRef"]["name"] = "nope"
        self.assertTrue(check_keda(objects, self.m.deployment))
        objects = copy.deepcopy(self.m.objects)
        objects["PodDisruptionBudget"][0]["spec"]["selector"]["matchLabels"] = {"app": "x"}
        self.assertTrue(check_pdb(objects, self.m.deployment))

    def test_extra_iam_action_or_wider_resource(self):
        t = copy.deepcopy(self.m.template)
        policy = next(r for r in t["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy")
        policy["Properties"]["PolicyDocument"]["Statement"][0]["Action"].append("sqs:PurgeQueue")
        self.assertTrue(check_cloudformation(t))
        t = copy.deepcopy(self.m.template)
        policy = next(r for r in t["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy")
        policy["Properties"]["PolicyDocument"]["Statement"][1]["Resource"] = {
            "Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/*"}
        self.assertTrue(check_cloudformation(t))

    def test_queue_settings(self):
        t = copy.deepcopy(self.m.template)
        queue = next(r for r in t["Resources"].values()
                     if "RedrivePolicy" in r.get("Properties", {}))
        queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] = 10
        queue["Properties"]["VisibilityTimeout"] = 30
        self.assertEqual(len(check_cloudformation(t)), 2)

    def test_cloudformation_tags_are_understood(self):
        doc = yaml.load("a: !Ref X\nb: !GetAtt Q.Arn\nc: !Sub '${X}-dlq'\n",
                        Loader=CloudFormationLoader)
        self.assertEqual(doc, {"a": {"Ref": "X"}, "b": {"Fn::GetAtt": ["Q", "Arn"]},
                               "c": {"Fn::Sub": "${X}-dlq"}})
        with self.assertRaises(yaml.YAMLError):
            yaml.safe_load("a: !Ref X\n")

    def test_dockerfile_without_the_installer_or_as_root(self):
        text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
        self.assertTrue(check_dockerfile(text.replace("scripts/install-deps.sh &&", "true &&")))
        self.assertTrue(check_dockerfile(re.sub(r"(?m)^USER .*$", "USER root", text)))
        self.assertTrue(check_dockerfile(text.replace("debian:12-slim", "debian:12")))

    def test_systemd_unit_with_short_stop_timeout(self):
        text = (DEPLOY / "systemd" / "dancer-analysis.service").read_text(encoding="utf-8")
        self.assertTrue(check_systemd(text.replace("TimeoutStopSec=30", "TimeoutStopSec=10")))
        self.assertTrue(check_systemd(text.replace("ProtectSystem=strict", "ProtectSystem=full")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
