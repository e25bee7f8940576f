"""A small in-memory Hub-compatible server for tests (no maintained fake exists on PyPI).

It answers the parts of the Hugging Face Hub HTTP API that `huggingface_hub`
(uploads, `HfApi`, `DatasetCard`) and `datasets.load_dataset` use for dataset
repos: repo create/info, branches, `/api/validate-yaml`, preupload, the Git LFS
batch API with a basic-transfer upload, commits (regular, LFS and deleted
files), tree listing, paths-info and `resolve` downloads (HEAD, GET, ranges).

Writes need a bearer token equal to `HubServer.token`; every Authorization
header seen is kept in `HubServer.seen_tokens` so tests can check that the
client sent it. Start with `HubServer().start()`; `url` is the `HF_ENDPOINT`.
Use it with `HF_HUB_DISABLE_XET=1` (no Xet storage here).
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field

import uvicorn
import yaml
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class StoredFile:
    data: bytes
    lfs: bool

    def entry(self, path: str) -> dict:
        out = {"type": "file", "path": path, "size": len(self.data), "oid": git_blob_sha1(self.data)}
        if self.lfs:
            out["lfs"] = {"oid": hashlib.sha256(self.data).hexdigest(), "size": len(self.data), "pointerSize": 134}
        return out


@dataclass
class Repo:
    private: bool
    branches: dict[str, dict[str, StoredFile]] = field(default_factory=lambda: {"main": {}})
    heads: dict[str, str] = field(default_factory=lambda: {"main": hashlib.sha1(b"init").hexdigest()})
    commits: list[dict] = field(default_factory=list)
    snapshots: dict[str, dict[str, StoredFile]] = field(default_factory=dict)  # commit sha -> files

    def at(self, revision: str) -> tuple[str, dict[str, StoredFile]] | None:
        """(commit sha, files) of a branch name or a commit sha; None if unknown."""
        if revision in self.branches:
            return self.heads[revision], self.branches[revision]
        if revision in self.snapshots:
            return revision, self.snapshots[revision]
        return None


LFS_SUFFIXES = (".parquet", ".arrow", ".bin", ".gz", ".zst")


class HubServer:
    def __init__(self, token: str = "hf_test_token_0123456789"):
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.seen_tokens: list[str] = []
        self.validated_yaml: list[dict] = []
        self.app = self._build_app()
        self._server: uvicorn.Server | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> "HubServer":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        thread = threading.Thread(target=self._server.run, daemon=True)
        thread.start()
        deadline = time.time() + 20
        while not self._server.started:
            if time.time() > deadline:
                raise RuntimeError("hub test server did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server:
            self._server.should_exit = True

    # -- helpers ---------------------------------------------------------------
    def files(self, repo_id: str, branch: str = "main") -> dict[str, bytes]:
        return {p: f.data for p, f in self.repos[repo_id].branches[branch].items()}

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header:
            self.seen_tokens.append(header.removeprefix("Bearer ").strip())
        return header == f"Bearer {self.token}"

    def _repo(self, repo_id: str, request: Request) -> Repo | None:
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and not self._authorized(request)):
            return None
        return repo

    @staticmethod
    def _not_found(what: str) -> JSONResponse:
        return JSONResponse({"error": f"{what} not found"}, status_code=404, headers={"X-Error-Code": "RepoNotFound"})

    # -- routes ----------------------------------------------------------------
    def _build_app(self) -> FastAPI:  # noqa: C901 - one route table
        app = FastAPI()
        hub = self

        @app.post("/api/repos/create")
        async def create_repo(request: Request):
            if not hub._authorized(request):
                return JSONResponse({"error": "Invalid credentials"}, status_code=401)
            body = await request.json()
            repo_id = f"{body.get('organization') or 'user'}/{body['name']}" if "/" not in body["name"] else body["name"]
            if repo_id in hub.repos:
                return JSONResponse({"error": "You already created this dataset repo", "url": f"{hub.url}/datasets/{repo_id}"}, status_code=409)
            hub.repos[repo_id] = Repo(private=bool(body.get("private")) or body.get("visibility") == "private")
            return {"url": f"{hub.url}/datasets/{repo_id}", "name": repo_id, "id": repo_id}

        @app.get("/api/whoami-v2")
        async def whoami(request: Request):
            if not hub._authorized(request):
                return JSONResponse({"error": "Invalid credentials"}, status_code=401)
            return {"type": "user", "name": "user", "auth": {"type": "access_token", "accessToken": {"role": "write"}}}

        @app.post("/api/validate-yaml")
        async def validate_yaml(request: Request):
            body = await request.json()
            content = body["content"]  # the whole card: YAML front matter between `---` lines, then markdown
            if not content.startswith("---\n"):
                return JSONResponse({"error": "the card has no YAML metadata block"}, status_code=400)
            try:
                metadata = yaml.safe_load(content.split("---\n", 2)[1]) or {}
            except yaml.YAMLError as exc:
                return JSONResponse({"error": f"invalid YAML: {exc}"}, status_code=400)
            problems = [key for key in ("license", "language", "task_categories", "size_categories", "configs") if key not in metadata]
            for config in metadata.get("configs", []):
                if "config_name" not in config or "data_files" not in config:
                    problems.append("configs entry without config_name/data_files")
            if problems:
                return JSONResponse({"error": f"missing or invalid metadata: {problems}"}, status_code=400)
            hub.validated_yaml.append(metadata)
            return {"errors": [], "warnings": []}

        @app.get("/api/datasets/{ns}/{name}")
        @app.get("/api/datasets/{ns}/{name}/revision/{revision}")
        async def repo_info(ns: str, name: str, request: Request, revision: str = "main"):
            repo = hub._repo(f"{ns}/{name}", request)
            if repo is None:
                return hub._not_found("Repository")
            if repo.at(revision) is None:
                return JSONResponse({"error": "Revision not found"}, status_code=404, headers={"X-Error-Code": "RevisionNotFound"})
            sha, files = repo.at(revision)
            card = files.get("README.md")
            card_data = None
            if card is not None and card.data.startswith(b"---"):
                card_data = yaml.safe_load(card.data.decode().split("---", 2)[1])
            return {
                "id": f"{ns}/{name}", "_id": f"{ns}/{name}", "author": ns, "sha": sha,
                "private": repo.private, "disabled": False, "gated": False, "downloads": 0, "likes": 0,
                "tags": [], "cardData": card_data, "lastModified": "2026-01-01T00:00:00.000Z",
                "siblings": [{"rfilename": p} for p in sorted(files)],
            }

        @app.post("/api/datasets/{ns}/{name}/branch/{branch}")
        async def create_branch(ns: str, name: str, branch: str, request: Request):
            repo = hub._repo(f"{ns}/{name}", request)
            if repo is None or not hub._authorized(request):
                return hub._not_found("Repository")
            if branch in repo.branches:
                return JSONResponse({"error": "Reference already exists"}, status_code=409)
            body = await request.body()
            start = (json.loads(body).get("startingPoint") if body else None) or "main"
            repo.branches[branch] = dict(repo.branches[start])
            repo.heads[branch] = repo.heads[start]
            return {}

        @app.post("/api/datasets/{ns}/{name}/preupload/{revision}")
        async def preupload(ns: str, name: str, revision: str, request: Request):
            if hub._repo(f"{ns}/{name}", request) is None:
                return hub._not_found("Repository")
            body = await request.json()
            out = []
            for f in body["files"]:
                lfs = f["path"].endswith(LFS_SUFFIXES) or f["size"] > 1_000_000
                out.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False})
            return {"files": out, "commitOid": hub.repos[f"{ns}/{name}"].heads.get(revision)}

        @app.post("/datasets/{ns}/{name}.git/info/lfs/objects/batch")
        async def lfs_batch(ns: str, name: str, request: Request):
            if not hub._authorized(request):
                return JSONResponse({"message": "Invalid credentials"}, status_code=401)
            body = await request.json()
            objects = []
            for obj in body["objects"]:
                entry = {"oid": obj["oid"], "size": obj["size"]}
                if obj["oid"] not in hub.lfs_objects:
                    entry["actions"] = {"upload": {"href": f"{hub.url}/lfs-upload/{obj['oid']}", "header": {}}}
                objects.append(entry)
            return JSONResponse({"transfer": "basic", "objects": objects}, media_type="application/vnd.git-lfs+json")

        @app.put("/lfs-upload/{oid}")
        async def lfs_upload(oid: str, request: Request):
            data = await request.body()
            if hashlib.sha256(data).hexdigest() != oid:
                return JSONResponse({"message": "sha256 mismatch"}, status_code=400)
            hub.lfs_objects[oid] = data
            return Response(status_code=200)

        @app.post("/api/datasets/{ns}/{name}/commit/{revision}")
        async def commit(ns: str, name: str, revision: str, request: Request):
            repo_id = f"{ns}/{name}"
            if not hub._authorized(request):
                return JSONResponse({"error": "Invalid credentials"}, status_code=401)
            repo = hub.repos.get(repo_id)
            if repo is None or revision not in repo.branches:
                return hub._not_found("Repository or revision")
            files = dict(repo.branches[revision])
            summary = ""
            for line in (await request.body()).decode().splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                key, value = item["key"], item["value"]
                if key == "header":
                    summary = value.get("summary", "")
                elif key == "file":
                    files[value["path"]] = StoredFile(base64.b64decode(value["content"]), lfs=False)
                elif key == "lfsFile":
                    if value["oid"] not in hub.lfs_objects:
                        return JSONResponse({"error": f"LFS object {value['oid']} was not uploaded"}, status_code=422)
                    files[value["path"]] = StoredFile(hub.lfs_objects[value["oid"]], lfs=True)
                elif key == "deletedFile":
                    files.pop(value["path"], None)
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    files = {p: f for p, f in files.items() if not p.startswith(prefix)}
            oid = hashlib.sha1(f"{repo_id}{revision}{len(repo.commits)}{time.time()}".encode()).hexdigest()
            repo.branches[revision] = files
            repo.heads[revision] = oid
            repo.snapshots[oid] = files
            repo.commits.append({"oid": oid, "summary": summary, "revision": revision})
            return {"commitUrl": f"{hub.url}/datasets/{repo_id}/commit/{oid}", "commitOid": oid, "success": True}

        def _entries(files: dict[str, StoredFile], prefix: str, recursive: bool) -> list[dict]:
            prefix = prefix.strip("/")
            base = prefix + "/" if prefix else ""
            out, dirs = [], set()
            for path in sorted(files):
                if not path.startswith(base):
                    continue
                rest = path[len(base):]
                if "/" in rest and not recursive:
                    dirs.add(base + rest.split("/")[0])
                    continue
                out.append(files[path].entry(path))
                if recursive:
                    parts = rest.split("/")[:-1]
                    dirs.update(base + "/".join(parts[: i + 1]) for i in range(len(parts)))
            return [{"type": "directory", "path": d, "oid": git_blob_sha1(d.encode()), "size": 0} for d in sorted(dirs)] + out

        @app.get("/api/datasets/{ns}/{name}/tree/{revision}")
        @app.get("/api/datasets/{ns}/{name}/tree/{revision}/{path:path}")
        async def tree(ns: str, name: str, revision: str, request: Request, path: str = ""):
            repo = hub._repo(f"{ns}/{name}", request)
            if repo is None or repo.at(revision) is None:
                return hub._not_found("Repository or revision")
            recursive = request.query_params.get("recursive", "false").lower() in ("1", "true")
            return _entries(repo.at(revision)[1], path, recursive)

        @app.post("/api/datasets/{ns}/{name}/paths-info/{revision}")
        async def paths_info(ns: str, name: str, revision: str, request: Request):
            repo = hub._repo(f"{ns}/{name}", request)
            if repo is None or repo.at(revision) is None:
                return hub._not_found("Repository or revision")
            form = await request.form()
            paths = form.getlist("paths")
            if not paths:
                paths = (await request.json()).get("paths", [])
            files = repo.at(revision)[1]
            out = []
            for p in paths:
                p = p.strip("/")
                if p in files:
                    out.append(files[p].entry(p))
                elif any(f.startswith(p + "/") for f in files) or p == "":
                    out.append({"type": "directory", "path": p, "oid": git_blob_sha1(p.encode()), "size": 0})
            return out

        @app.api_route("/datasets/{ns}/{name}/resolve/{revision}/{path:path}", methods=["GET", "HEAD"])
        async def resolve(ns: str, name: str, revision: str, path: str, request: Request):
            repo = hub._repo(f"{ns}/{name}", request)
            if repo is None:
                return hub._not_found("Repository")
            if repo.at(revision) is None:
                return JSONResponse({"error": "Revision not found"}, status_code=404, headers={"X-Error-Code": "RevisionNotFound"})
            sha, files = repo.at(revision)
            stored = files.get(path)
            if stored is None:
                return JSONResponse({"error": "Entry not found"}, status_code=404, headers={"X-Error-Code": "EntryNotFound"})
            data = stored.data
            etag = hashlib.sha256(data).hexdigest() if stored.lfs else git_blob_sha1(data)
            headers = {"ETag": f'"{etag}"', "X-Repo-Commit": sha, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
            status = 200
            ranged = request.headers.get("range")
            if ranged and ranged.startswith("bytes="):
                start_s, _, end_s = ranged[6:].partition("-")
                start = int(start_s or 0)
                end = min(int(end_s) if end_s else len(data) - 1, len(data) - 1)
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                data, status = data[start : end + 1], 206
            headers["Content-Length"] = str(len(data))
            if request.method == "HEAD":
                return Response(status_code=status, headers=headers)
            return Response(content=data, status_code=status, headers=headers)

        return app
