/* 收据打印按钮 / the receipt's print button (no inline script under the CSP). */
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const b = document.getElementById("print");
  if (b) b.addEventListener("click", () => window.print());
});
