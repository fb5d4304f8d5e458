"""Attachments: size limit, type checked by content, download only for those who may see the case."""
from __future__ import annotations

import io
import zipfile

import pytest
import sqlalchemy as sa

from app.cases.records import Attachment
from app.cases.uploads import UploadRefused, check_upload, clean_filename, detect_type
from tests.web.helpers import EXE, PNG, REGISTER_FORM, open_task, start_case


def _office(entry: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(entry, "<x/>")
    return buf.getvalue()


@pytest.fixture
def case_page(units, browser):
    instance, case = start_case()
    browser.login("intake1")
    return instance, case


def _upload(browser, case_id, content, name):
    return browser.post(f"/cases/{case_id}/attachments", {"file": (io.BytesIO(content), name)},
                        content_type="multipart/form-data")


def _count(db):
    return db.session.execute(sa.select(sa.func.count()).select_from(Attachment)).scalar_one()


def test_types_are_recognised_by_content_not_by_name():
    assert detect_type(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj") == "application/pdf"
    assert detect_type(PNG) == "image/png"
    assert detect_type(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20) == "image/jpeg"
    assert detect_type(_office("word/document.xml")).endswith("wordprocessingml.document")
    assert detect_type(_office("xl/workbook.xml")).endswith("spreadsheetml.sheet")
    assert detect_type("诉求材料：第一页\n".encode("utf-8")) == "text/plain"
    assert detect_type("诉求材料".encode("gbk")) == "text/plain"
    assert detect_type(EXE) is None
    assert detect_type(_office("payload/evil.bin")) is None                       # a plain zip
    assert detect_type(b"GIF89a\x01\x00\x01\x00") is None                         # an image, but not allowed
    assert detect_type(b"text\x00with NUL") is None
    assert clean_filename("C:\\Users\\x\\..\\报告.pdf") == "报告.pdf" and clean_filename("../../etc/passwd") == "passwd"


def test_an_exe_renamed_pdf_is_refused(case_page, browser, db):
    _, case = case_page
    resp = _upload(browser, case.id, EXE, "发票.pdf")
    assert resp.status_code == 415
    assert "不支持的文件类型" in browser.text(resp) and "Traceback" not in browser.text(resp)
    assert _count(db) == 0


def test_a_file_over_the_limit_is_refused(case_page, browser, db, app):
    _, case = case_page
    app.config["MAX_ATTACHMENT_BYTES"] = 1024
    try:
        resp = _upload(browser, case.id, b"%PDF-1.4\n" + b"0" * 2000, "大文件.pdf")
    finally:
        app.config["MAX_ATTACHMENT_BYTES"] = 10 * 1024 * 1024
    assert resp.status_code == 413
    assert "文件过大：每个附件不能超过 1 KB" in browser.text(resp)
    assert _count(db) == 0
    assert _upload(browser, case.id, b"", "空.txt").status_code == 400


def test_the_default_limit_is_ten_megabytes(app):
    # checked on the upload itself: the test client would spool an 11 MB request to a temporary file
    from werkzeug.datastructures import FileStorage
    limit = app.config["MAX_ATTACHMENT_BYTES"]
    assert limit == 10 * 1024 * 1024
    exact = check_upload(FileStorage(io.BytesIO(b"%PDF-1.4\n" + b"0" * (limit - 9)), "ok.pdf"), limit)
    assert exact.size == limit and exact.content_type == "application/pdf"
    with pytest.raises(UploadRefused) as refused:
        check_upload(FileStorage(io.BytesIO(b"%PDF-1.4\n" + b"0" * limit), "big.pdf"), limit)
    assert refused.value.status == 413 and "10 MB" in refused.value.message


def test_an_allowed_file_is_kept_and_downloadable_only_by_those_who_may_see_the_case(case_page, browser,
                                                                                    make_browser, db):
    _, case = case_page
    resp = _upload(browser, case.id, PNG, "现场照片.png")
    assert resp.status_code == 303
    row = db.session.execute(sa.select(Attachment)).scalar_one()
    assert row.case_id == case.id and row.content_type == "image/png" and row.size == len(PNG)
    html = browser.text(browser.get(f"/cases/{case.id}"))
    assert "已上传附件“现场照片.png”" in html and f'href="/attachments/{row.id}"' in html
    download = browser.get(f"/attachments/{row.id}")
    assert download.status_code == 200 and download.data == PNG
    assert download.mimetype == "image/png"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    outsider = make_browser()
    outsider.login("ub1")                                      # unit B: the case never reached it
    assert outsider.get(f"/attachments/{row.id}").status_code == 403
    assert _upload(outsider, case.id, PNG, "x.png").status_code == 403
    assert browser.get("/attachments/99999").status_code == 404


def test_a_file_field_uploads_into_the_case_attachments(case_page, browser, db):
    instance, case = case_page
    task = open_task(instance.id, "register")
    form = {**REGISTER_FORM, "action": "save", "__file__:evidence_file": (io.BytesIO(PNG), "核实材料.png")}
    resp = browser.post(f"/tasks/{task.id}", form, content_type="multipart/form-data")
    assert resp.status_code == 303
    row = db.session.execute(sa.select(Attachment)).scalar_one()
    assert row.case_id == case.id and row.human_task_id == task.id and row.field == "evidence_file"
    assert open_task(instance.id, "register").draft["evidence_file"] == str(row.id)
    html = browser.text(browser.get(f"/tasks/{task.id}"))
    assert "已上传：" in html and "核实材料.png" in html and f'name="evidence_file" value="{row.id}"' in html
    bad = browser.post(f"/tasks/{task.id}", {**REGISTER_FORM, "action": "complete",
                                              "__file__:evidence_file": (io.BytesIO(EXE), "a.pdf")},
                       content_type="multipart/form-data")
    assert bad.status_code == 422
    block = browser.text(bad).split('id="f_evidence_file-wrap"', 1)[1].split('id="f_note-wrap"', 1)[0]
    assert "不支持的文件类型" in block
    assert _count(db) == 1


def test_a_crafted_file_id_or_row_index_is_ignored_not_a_server_error(case_page, browser):
    """"²".isdigit() is True but int("²") fails: a file field edited to it was saved in the draft and
    then broke the task page on every visit; a row index the same way broke the submit."""
    instance, _ = case_page
    task = open_task(instance.id, "register")
    for value in ("²", "٣", "9" * 40):
        saved = browser.post(f"/tasks/{task.id}", {**REGISTER_FORM, "evidence_file": value, "action": "save"})
        assert saved.status_code == 303, value
        assert browser.get(f"/tasks/{task.id}").status_code == 200, value
        removed = browser.post(f"/tasks/{task.id}", {**REGISTER_FORM, "action": f"remove:items:{value}"})
        assert removed.status_code == 200 and 'value="工程款"' in browser.text(removed), value
    assert browser.post("/notifications/read", {"id": "²"}).status_code == 303
