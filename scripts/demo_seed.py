#!/usr/bin/env python3
"""Seeds the demo installation through the public API, the way a user would: a project, the
generated document pages as a dataset (validated in the background), and a training template
on it with the guide's settings. Safe to run again: existing things are reused.

Usage: demo_seed.py BASE_URL LOGIN PASSWORD DATASET_ZIP
"""

import json
import sys
import time
import urllib.error
import urllib.request

BASE, LOGIN, PASSWORD, ZIP = sys.argv[1:5]
CLASSIFIER = "00000000-0000-0000-0000-000000000001"


def call(method, path, token=None, body=None, raw=None, content_type="application/json"):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def find(token, path, name):
    status, page = call("GET", path, token)
    for item in (page or {}).get("items", []):
        if item["name"] == name:
            return item
    return None


def first(token, path, name, create):
    """The item named `name` in the list at `path`, creating it (and waiting for the list)."""
    status, body = create()
    if status in (200, 201, 202):
        return body
    if status != 409:
        sys.exit(f"{path}: {status} {body}")
    for _ in range(100):
        item = find(token, path, name)
        if item:
            return item
        time.sleep(0.2)
    sys.exit(f"{path}: `{name}` is taken but not listed")


def main():
    status, login = call("POST", "/api/v1/auth/login", body={"login": LOGIN, "password": PASSWORD})
    if status != 200:
        sys.exit(f"login: {status} {login}")
    token = login["access_token"]
    project = first(token, "/api/v1/projects", "demo",
                    lambda: call("POST", "/api/v1/projects", token, {"name": "demo", "description": "Документы"}))
    dataset = first(token, f"/api/v1/datasets?project_id={project['id']}", "pages",
                    lambda: call("POST", "/api/v1/datasets", token,
                                 {"project_id": project["id"], "name": "pages", "description": "generated document pages"}))
    with open(ZIP, "rb") as archive:
        status, version = call("POST", f"/api/v1/datasets/{dataset['id']}/versions?file_name=pages.zip", token,
                               raw=archive.read(), content_type="application/zip")
    if status not in (202, 409):
        sys.exit(f"upload: {status} {version}")
    for _ in range(600):
        status, versions = call("GET", f"/api/v1/datasets/{dataset['id']}/versions", token)
        states = [v["status"] for v in (versions or [])] if isinstance(versions, list) else \
            [v["status"] for v in (versions or {}).get("items", [])]
        if "ready" in states:
            break
        if states and all(s == "invalid" for s in states):
            sys.exit(f"dataset invalid: {versions}")
        time.sleep(0.5)
    else:
        sys.exit("dataset validation did not finish")
    template = first(token, f"/api/v1/training-templates?project_id={project['id']}", "Документы",
                     lambda: call("POST", "/api/v1/training-templates", token, {
                         "project_id": project["id"], "name": "Документы", "model_type_id": CLASSIFIER,
                         "description": "Классификатор страниц документов", "augmentation": "rotations_exposure_noise",
                         "dataset_id": dataset["id"], "parameters": {"max_iterations": 300, "image_size": 64}}))
    print(f"demo: project {project['id']}, dataset {dataset['id']} (ready), template {template['id']}")


if __name__ == "__main__":
    main()
