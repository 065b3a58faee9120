from localcloud.ec2.app import app_handler
from localcloud.net.http import Request


def request(path: str, method: str = "GET") -> Request:
    return Request(method, path, {}, {})


def test_every_answer_names_the_instance() -> None:
    handle = app_handler("i-0abc")

    root, health, missing, post = (handle(request("/")), handle(request("/health")), handle(request("/x")),
                                   handle(request("/", "POST")))

    assert (root.status, root.body) == (200, b"hello from i-0abc\n")
    assert (health.status, health.body) == (200, b"ok\n")
    assert (missing.status, post.status) == (404, 405)
    assert all(("X-Served-By", "i-0abc") in r.headers for r in (root, health, missing, post))
