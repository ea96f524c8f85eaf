import { runServiceMain } from "../service-main";
import { startService2 } from "./service2";

runServiceMain("service2", 7102, startService2);
