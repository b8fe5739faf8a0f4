/* 概览 / overview: the shell's 小区 switcher shows one community or all. */
"use strict";
Shell.onSite((slug) => {
  for (const section of document.querySelectorAll(".site[data-site-slug]")) {
    section.hidden = Boolean(slug) && section.dataset.siteSlug !== slug;
  }
});
