import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Provider } from "react-redux";
import { BrowserRouter } from "react-router-dom";
import { App } from "./App";
import { language } from "./i18n";
import { makeStore } from "./store";
import "./styles.css";

document.documentElement.lang = language;

createRoot(document.getElementById("root") as HTMLElement).render(
  <StrictMode>
    <Provider store={makeStore()}>
      <BrowserRouter>
        <App />
      </BrowserRouter>
    </Provider>
  </StrictMode>,
);
