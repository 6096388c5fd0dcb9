/** The page's element with this id; index.html has every id the scripts ask for. */
export const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
