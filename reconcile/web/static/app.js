/* reconcile 网页的全部脚本:选择后自动保存、删除前确认、上传时提示、核查进度轮询。不联网,不依赖任何库。 */
(function () {
  "use strict";

  // 用途、每行是、工作表、表头行数:改了以后立即保存,页面按新的选择重新读取和对应列名
  document.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
    sel.addEventListener("change", function () {
      var form = sel.form;
      form.elements.focus.value = sel.getAttribute("data-autosubmit");
      var action = document.createElement("input");
      action.type = "hidden"; action.name = "action"; action.value = "save";
      form.appendChild(action);
      form.submit();
    });
  });

  // 问题清单的筛选:选了就查;空的条件不放进地址
  var dropEmpty = function (form) {
    form.querySelectorAll("select, input[type=hidden]").forEach(function (el) { if (!el.value) el.disabled = true; });
  };
  document.querySelectorAll("form.filters").forEach(function (form) {
    form.addEventListener("submit", function () { dropEmpty(form); });
  });
  document.querySelectorAll("select[data-autosubmit-get]").forEach(function (sel) {
    sel.addEventListener("change", function () { dropEmpty(sel.form); sel.form.submit(); });
  });

  // 删除前确认
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[data-confirm]");
    if (el && el.tagName === "BUTTON" && !window.confirm(el.getAttribute("data-confirm"))) ev.preventDefault();
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
    });
  });

  document.querySelectorAll("[data-back]").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      if (window.history.length > 1) { ev.preventDefault(); window.history.back(); }
    });
  });

  // 上传:显示选中的文件名;提交后按钮变灰,提示正在上传
  document.querySelectorAll("form.upload").forEach(function (form) {
    var input = form.querySelector("input[type=file]");
    var picked = form.querySelector("[data-picked]");
    input.addEventListener("change", function () {
      var names = Array.prototype.map.call(input.files, function (f) { return f.name; });
      picked.textContent = names.length ? "已选 " + names.length + " 个文件:" + names.join("、") : "还没有选择文件";
    });
  });
  document.querySelectorAll("form[data-busy], button[data-busy]").forEach(function (el) {
    var form = el.tagName === "FORM" ? el : el.form;
    form.addEventListener("submit", function (ev) {
      var text = (ev.submitter && ev.submitter.getAttribute("data-busy")) || form.getAttribute("data-busy");
      if (!text) return;
      var note = document.createElement("p");
      note.className = "msg warn busy";
      note.textContent = text;
      (ev.submitter || form).insertAdjacentElement("afterend", note);
      window.setTimeout(function () {
        form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });

  // 核查进度:每 0.7 秒问一次服务器
  var box = document.getElementById("progress");
  if (box && box.getAttribute("data-state") === "running") {
    var url = box.getAttribute("data-status-url");
    var title = box.querySelector("[data-title]");
    var bar = box.querySelector("[data-bar]");
    var pct = box.querySelector("[data-percent]");
    var poll = function () {
      fetch(url, { cache: "no-store" }).then(function (r) { return r.json(); }).then(function (s) {
        bar.value = s.percent; pct.textContent = s.percent + "%";
        (s.stages || []).forEach(function (st) {
          var li = box.querySelector('[data-stage="' + st.name + '"]');
          if (!li) return;
          li.className = st.state;
          li.querySelector(".sec").textContent =
            st.seconds !== null ? st.seconds.toFixed(1) + " 秒" : (st.state === "running" ? "进行中……" : "");
        });
        if (s.status === "done") {
          title.textContent = "核查完成,正在打开结果……";
          box.querySelector("[data-done]").hidden = false;
          window.location.href = box.getAttribute("data-results-url");
        } else if (s.status === "failed") {
          title.textContent = "核查没有完成";
          box.querySelector("[data-error-text]").textContent = s.error || "";
          box.querySelector("[data-error]").hidden = false;
        } else {
          window.setTimeout(poll, 700);
        }
      }).catch(function () { window.setTimeout(poll, 2000); });
    };
    window.setTimeout(poll, 300);
  }
})();
