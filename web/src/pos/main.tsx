// The outlet POS's entry point: it only renders (the app is in app/App.tsx).

import { render } from "preact";
import "../shared/base.css";
import "./pos.css";
import { App } from "./app/App";

render(<App />, document.getElementById("app")!);
